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
