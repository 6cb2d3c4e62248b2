import type { Flag } from './flags.js';
import type { BenchRun } from './run.js';

/** A mistake in a benchmark's flags or inputs: said on stderr with exit 2, never a stack trace. */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

/**
 * One benchmark, declared once: its flags and the function that runs it. `rg bench <name>` (commander) and
 * `nx run <project>:bench <name>` (benchMain) both build their parsers from this, so the two cannot drift apart.
 */
export interface BenchSpec {
  name: string;
  description: string;
  flags: readonly Flag[];
  /** Errors that are the user's inputs (a missing file, a bad dataset): exit 2 with their message. */
  usageErrors?: ReadonlyArray<abstract new (...args: never[]) => Error>;
  /** Times nothing (bytes, accuracy): no --allow-busy; the load is recorded, never refused. */
  loadFree?: boolean;
  /** Returns the JSON object to print. */
  run(args: BenchArgs): Promise<Record<string, unknown>>;
  /** The result as a person reads it, when not --json (default: the JSON, indented). */
  print?(out: Record<string, unknown>): string;
}

/** What a benchmark's `run` reads its flags and its surroundings through. */
export interface BenchArgs {
  /** Where peers (tools/) and data (../shared/data) are looked for: the repository root for Nx, the working folder for rg. */
  readonly root: string;
  /** As the rg CLI: --model/--home/--threads, else RG_MODEL, RG_HOME, RG_THREADS, else its defaults. */
  readonly model: string;
  readonly home: string;
  readonly threads: number;
  /** The folder relative paths are resolved against, and the environment (backends' URLs, API keys). */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Every flag's value by its camelCase name (`--distill-topk` -> distillTopk, `--no-dapt` -> dapt: false). */
  options(): Record<string, unknown>;
  /** A numeric flag's value (int, count, number), or its default. */
  num(name: string): number;
  /** A comma-separated integer flag's values, or its default (undefined when neither). */
  nums(name: string): number[] | undefined;
  /** A string, choice or path flag's value (a path made absolute), or its default. */
  str(name: string): string | undefined;
  /** A list flag's values, or its default. */
  strs(name: string): string[] | undefined;
  /** A switch: whether it was given. */
  flag(name: string): boolean;
  /** Starts the load guard: refuses a busy machine unless --allow-busy (or `allowBusy`: figures load does not change). */
  start(options?: { allowBusy?: boolean }): BenchRun;
  /** Progress lines, on stderr. */
  say(line: string): void;
  /** A counter with rate and ETA where the caller shows one (rg on a terminal); silent otherwise. */
  progress(label: string, total: number, unit: string): { tick(n?: number): void; stop(): void };
  /** Fails the run as a usage error (exit 2). */
  usage(message: string): never;
}
