import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';

/** The machine a figure was measured on: a speed means nothing without it. */
export interface Machine {
  cpu: string;
  /** Logical CPUs the OS reports. */
  cores: number;
  /** Threads the benchmark asked for (e.g. onnxruntime intra-op threads); absent where it sets none. */
  threads?: number;
  node: string;
}

export function machine(threads?: number): Machine {
  const all = cpus();
  return { cpu: all[0]?.model ?? 'unknown', cores: all.length, ...(threads === undefined ? {} : { threads }), node: process.version };
}

/**
 * The commit a benchmark runs (short hash; "+dirty" when tracked files differ from it), so that a recorded figure
 * names its code. Null outside a git checkout, or where git is missing.
 */
export function gitCommit(cwd: string): string | null {
  const git = (args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    if (!existsSync(cwd)) return null;
    return `${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', '--untracked-files=no']) ? '+dirty' : ''}`;
  } catch {
    return null;
  }
}
