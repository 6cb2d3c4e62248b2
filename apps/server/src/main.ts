import { ArgsError, parseServerArgs, USAGE } from './args.js';
import { startServer, untilSignal } from './start.js';

/** The rg-server process: parse, start, serve until SIGTERM or Ctrl-C; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  let options: ReturnType<typeof parseServerArgs>;
  try {
    options = parseServerArgs(argv, process.env);
  } catch (e) {
    if (!(e instanceof ArgsError)) throw e;
    say(`rg-server: error: ${e.message}\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({ ...options, say });
  } catch (e) {
    say(`rg-server: error: ${(e as Error).message}`);
    return 1;
  }
  return untilSignal(server, process, options.logLevel === 'silent' ? undefined : say);
}
