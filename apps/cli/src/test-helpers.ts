import { main } from './main.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in-process with captured output and a controlled environment. */
export async function runCli(
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; loadavg?: () => number[] } = {},
): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    isTTY: false,
    env: opts.env ?? {},
    cwd: opts.cwd ?? process.cwd(),
    // A quiet machine unless a test says otherwise: the benchmarks' load guard must not fail tests on a busy CI box.
    loadavg: opts.loadavg ?? (() => [0, 0, 0]),
  });
  return { code, stdout, stderr };
}
