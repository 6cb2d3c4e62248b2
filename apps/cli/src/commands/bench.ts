import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';

/**
 * The shared `rg bench` group. Several command modules attach their benchmark to it
 * (`bench store`, `bench generate`, `bench train`, `bench retrieve`), in whatever order they
 * register, so each one asks for the group here instead of creating it.
 */
export function benchCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'bench') ??
    program.command('bench').description('benchmarks: each prints JSON with its figures and the machine (use --json for one line)')
  );
}

/**
 * The commit a benchmark runs (short hash; "+dirty" when tracked files differ from it), so that a recorded figure
 * names its code. Null outside a git checkout.
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
