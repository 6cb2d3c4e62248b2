import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchRun, BusyMachineError, startRun } from './run.js';

/** A mistake in a runner's flags or inputs: said on stderr with exit 2, never a stack trace. */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

/** What a package's benchmark runner reads its flags through (`benchMain`'s `run`). */
export interface BenchArgs {
  /** The repository root, whatever folder Nx runs the runner in: peers (tools/) and data default to it. */
  readonly root: string;
  /** As the rg CLI: --model/--home/--threads, else RG_MODEL, RG_HOME, RG_THREADS (an empty value is unset), else its defaults. */
  readonly model: string;
  readonly home: string;
  readonly threads: number;
  string(name: string): string | undefined;
  flag(name: string): boolean;
  /** An integer ≥ `min` (default 1), or `fallback` when the flag is absent. */
  int(name: string, fallback: number, min?: number): number;
  /** Comma-separated integers ≥ `min` (default 1). */
  ints(name: string, fallback: readonly number[], min?: number): number[];
  /** A number > 0. */
  positive(name: string, fallback: number): number;
  /** One of `choices`. */
  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T;
  /** An absolute path (resolved against the working folder), or undefined when the flag is absent. */
  path(name: string): string | undefined;
  /** Starts the load guard: refuses a busy machine unless --allow-busy (or `allowBusy`: figures load does not change). */
  start(options?: { allowBusy?: boolean }): BenchRun;
  /** Progress, on stderr. */
  say(line: string): void;
  /** Fails the run as a usage error (exit 2). */
  usage(message: string): never;
}

export interface BenchMainSpec {
  /** The benchmarks this runner offers, chosen by the first positional argument (the first is the default). */
  benches: readonly string[];
  /** The benchmark's own flags (--model, --home, --threads, --allow-busy and --json are every runner's). */
  options: Record<string, { type: 'string' | 'boolean' }>;
  /** Errors that are the user's inputs (a missing file, a bad dataset): exit 2 with their message. */
  usageErrors?: ReadonlyArray<abstract new (...args: never[]) => Error>;
  /** Runs `bench` and returns the JSON object to print. */
  run(bench: string, args: BenchArgs): Promise<Record<string, unknown>>;
  /** The rg CLI's default model (a runner without a model never reads it). */
  defaultModel?: string;
  /** The arguments (default: the process's). */
  argv?: string[];
  /** The load average the guard reads (default os.loadavg). */
  loadavg?: () => number[];
}

/** A runner's own flags: these take a value, those are switches. */
export function benchFlags(strings: readonly string[], switches: readonly string[] = []): BenchMainSpec['options'] {
  return Object.fromEntries([
    ...strings.map((name) => [name, { type: 'string' as const }]),
    ...switches.map((name) => [name, { type: 'boolean' as const }]),
  ]);
}

// This file is packages/bench-kit/{src,dist}/runner.*: the root is three folders up from either.
const ROOT = resolve(import.meta.dirname, '../../..');

/**
 * The body of a package's `src/bench/main.ts` (its `nx run <project>:bench`): parses the flags, applies the CLI's
 * environment defaults, runs the benchmark and prints its JSON (one line with --json). Bad flags, a busy machine and
 * the spec's usage errors exit 2 with a one-line message, as `rg bench` does.
 */
export async function benchMain(spec: BenchMainSpec): Promise<void> {
  let bench = spec.benches[0];
  const usage = (message: string): never => {
    throw new BenchUsageError(message);
  };
  try {
    const text = { type: 'string' } as const;
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({
        args: spec.argv,
        allowPositionals: true,
        options: { model: text, home: text, threads: text, 'allow-busy': { type: 'boolean' }, json: { type: 'boolean' }, ...spec.options },
      });
    } catch (e) {
      return usage((e as Error).message);
    }
    const { values, positionals } = parsed;
    bench = positionals[0] ?? bench;
    if (positionals.length > 1 || !spec.benches.includes(bench))
      usage(`expected one of ${spec.benches.join(', ')}, got "${positionals.join(' ')}"`);
    const string = (name: string) => {
      const v = values[name];
      return typeof v === 'string' ? v : undefined;
    };
    const int = (name: string, fallback: number, min = 1, raw = string(name)) => {
      if (raw === undefined || raw === '') return fallback;
      if (!/^\d+$/.test(raw) || Number(raw) < min) usage(`--${name}: expected an integer ≥ ${min}, got "${raw}"`);
      return Number(raw);
    };
    const env = process.env;
    const args: BenchArgs = {
      root: ROOT,
      model: string('model') ?? (env.RG_MODEL || spec.defaultModel || 'smollm2-135m-instruct'),
      home: string('home') ?? (env.RG_HOME || join(homedir(), '.cache', 'rg')),
      threads: int('threads', 2, 1, string('threads') ?? (env.RG_THREADS || undefined)),
      string,
      flag: (name) => values[name] === true,
      int: (name, fallback, min = 1) => int(name, fallback, min),
      ints: (name, fallback, min = 1) =>
        string(name)
          ?.split(',')
          .map((s) => int(name, 0, min, s.trim())) ?? [...fallback],
      positive(name, fallback) {
        const raw = string(name);
        if (raw === undefined) return fallback;
        const n = Number(raw);
        return n > 0 && Number.isFinite(n) ? n : usage(`--${name}: expected a number greater than 0, got "${raw}"`);
      },
      choice(name, choices, fallback) {
        const raw = string(name) ?? fallback;
        return (choices as readonly string[]).includes(raw)
          ? (raw as typeof fallback)
          : usage(`--${name}: one of ${choices.join(', ')}, got "${raw}"`);
      },
      path: (name) => {
        const raw = string(name);
        return raw === undefined ? undefined : resolve(raw);
      },
      start: (options = {}) =>
        startRun({
          cwd: ROOT,
          threads: args.threads,
          loadavg: spec.loadavg,
          allowBusy: options.allowBusy || values['allow-busy'] === true,
        }),
      say: (line) => process.stderr.write(`${line}\n`),
      usage,
    };
    const out = await spec.run(bench, args);
    process.stdout.write(`${values.json ? JSON.stringify(out) : JSON.stringify(out, null, 2)}\n`);
  } catch (e) {
    const expected = e instanceof BenchUsageError || e instanceof BusyMachineError || spec.usageErrors?.some((k) => e instanceof k);
    if (!expected) throw e;
    process.stderr.write(`bench ${bench}: ${(e as Error).message}\n`);
    process.exitCode = 2;
  }
}
