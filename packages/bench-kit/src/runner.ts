import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FlagError, type FlagValues, flagOptions, parseArgsOptions, parseFlags } from './flags.js';
import { BusyMachineError, startRun } from './run.js';
import { type BenchArgs, type BenchSpec, BenchUsageError } from './spec.js';

export type { BenchArgs };

/** Where a runner (Nx's or rg's) runs a benchmark: the global settings, the load source, the output. */
export interface BenchHost {
  root: string;
  /** The folder relative paths the user typed are resolved against. */
  cwd: string;
  model: string;
  home: string;
  threads: number;
  env: Readonly<Record<string, string | undefined>>;
  allowBusy: boolean;
  loadavg?: () => number[];
  say(line: string): void;
  progress?: BenchArgs['progress'];
}

const SILENT = { tick() {}, stop() {} };

/** The readers `run` gets over flags parsed with parseFlags. */
export function benchArgs(values: FlagValues, host: BenchHost): BenchArgs {
  const get = (name: string) => {
    if (!values.has(name)) throw new Error(`bench flag --${name} is not declared`);
    return values.get(name);
  };
  const usage = (message: string): never => {
    throw new BenchUsageError(message);
  };
  return {
    root: host.root,
    model: host.model,
    home: host.home,
    threads: host.threads,
    cwd: host.cwd,
    env: host.env,
    options: () => flagOptions(values),
    num(name) {
      const v = get(name);
      if (typeof v !== 'number') throw new Error(`bench flag --${name} has no number (and no default)`);
      return v;
    },
    nums: (name) => get(name) as number[] | undefined,
    str: (name) => get(name) as string | undefined,
    strs: (name) => get(name) as string[] | undefined,
    flag: (name) => get(name) === true,
    start: (options = {}) =>
      startRun({ cwd: host.root, threads: host.threads, loadavg: host.loadavg, allowBusy: options.allowBusy || host.allowBusy }),
    say: host.say,
    progress: host.progress ?? (() => SILENT),
    usage,
  };
}

/** True for the errors a runner reports as the user's (exit 2, one line): bad flags, a busy machine, the spec's own. */
export function isBenchUsageError(spec: BenchSpec, e: unknown): e is Error {
  return (
    e instanceof BenchUsageError ||
    e instanceof FlagError ||
    e instanceof BusyMachineError ||
    (spec.usageErrors?.some((k) => e instanceof k) ?? false)
  );
}

export interface BenchMainOptions {
  /** The rg CLI's default model (a runner without a model never reads it). */
  defaultModel?: string;
  /** The arguments (default: the process's). */
  argv?: string[];
  /** The load average the guard reads (default os.loadavg). */
  loadavg?: () => number[];
}

// This file is packages/bench-kit/{src,dist}/runner.*: the root is three folders up from either.
const ROOT = resolve(import.meta.dirname, '../../..');

/**
 * The body of a package's `src/bench/main.ts` (its `nx run <project>:bench [name]`): the first positional argument
 * picks one of `benches` (default the first), its flags are parsed as rg bench parses them, it runs, and its JSON is
 * printed (one line with --json). Bad flags, a busy machine and the spec's usage errors exit 2 with a one-line message.
 */
export async function benchMain(benches: readonly BenchSpec[], options: BenchMainOptions = {}): Promise<void> {
  let spec = benches[0];
  try {
    const text = { type: 'string' } as const;
    const all = parseArgsOptions(benches.flatMap((b) => b.flags));
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({
        args: options.argv,
        allowPositionals: true,
        options: { model: text, home: text, threads: text, 'allow-busy': { type: 'boolean' }, json: { type: 'boolean' }, ...all },
      });
    } catch (e) {
      throw new BenchUsageError((e as Error).message);
    }
    const { values, positionals } = parsed;
    const chosen = benches.find((b) => b.name === (positionals[0] ?? spec.name));
    if (positionals.length > 1 || !chosen)
      throw new BenchUsageError(`expected one of ${benches.map((b) => b.name).join(', ')}, got "${positionals.join(' ')}"`);
    spec = chosen;
    const own = new Set(['model', 'home', 'threads', 'allow-busy', 'json', ...spec.flags.map((f) => f.name)]);
    for (const name of Object.keys(values)) if (!own.has(name)) throw new BenchUsageError(`--${name} is not a flag of bench ${spec.name}`);
    const raw = values as Record<string, string | string[] | boolean | undefined>;
    const string = (name: string) => (typeof raw[name] === 'string' ? (raw[name] as string) : undefined);
    const env = process.env;
    const threads = string('threads') ?? (env.RG_THREADS || undefined);
    if (threads !== undefined && !(/^\d+$/.test(threads) && Number(threads) >= 1))
      throw new BenchUsageError(`--threads: expected a positive integer, got "${threads}"`);
    const args = benchArgs(parseFlags(spec.flags, raw, { cwd: process.cwd(), root: ROOT }), {
      root: ROOT,
      cwd: process.cwd(),
      model: string('model') ?? (env.RG_MODEL || options.defaultModel || 'smollm2-135m-instruct'),
      home: string('home') ?? (env.RG_HOME || join(homedir(), '.cache', 'rg')),
      threads: threads === undefined ? 2 : Number(threads),
      env,
      allowBusy: raw['allow-busy'] === true,
      loadavg: options.loadavg,
      say: (line) => process.stderr.write(`${line}\n`),
    });
    const out = await spec.run(args);
    process.stdout.write(`${raw.json ? JSON.stringify(out) : (spec.print?.(out) ?? JSON.stringify(out, null, 2))}\n`);
  } catch (e) {
    if (!isBenchUsageError(spec, e)) throw e;
    process.stderr.write(`bench ${spec.name}: ${e.message}\n`);
    process.exitCode = 2;
  }
}
