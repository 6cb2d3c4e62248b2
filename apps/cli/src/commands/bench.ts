import { type BenchRun, BUSY_LOAD_1M, startRun } from '@rg/bench-kit';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';

// bench e2e still imports the commit from here; the kit owns it.
export { gitCommit } from '@rg/bench-kit';

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

/** `--allow-busy`, on every benchmark that times something (those the load guard refuses on a busy machine). */
export function allowBusyOption(): Option {
  return new Option('--allow-busy', `run even when the 1-minute load average is above ${BUSY_LOAD_1M} (the JSON says busy: true)`);
}

/**
 * Starts a benchmark run through the kit's load guard, with the load this CLI's context reads. A busy machine is a
 * usage error (exit 2): the user can wait, or pass --allow-busy. Benchmarks whose figures do not depend on load
 * (accuracy, bytes) pass `allowBusy: true`: they never refuse, and still record the load and the busy flag.
 */
export function benchRun(ctx: CliContext, opts: { threads?: number; allowBusy: boolean }): BenchRun {
  return startRun({ cwd: ctx.io.cwd, loadavg: ctx.io.loadavg, ...opts });
}
