import { type BenchSpec, BUSY_LOAD_1M, benchArgs, isBenchUsageError, parseFlags } from '@rg/bench-kit';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { addFlags, givenFlags } from '../flags.js';

/** The shared `rg bench` group: every benchmark attaches to it. */
function benchCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'bench') ??
    program.command('bench').description('benchmarks: each prints JSON with its figures and the machine (use --json for one line)')
  );
}

/** `--allow-busy`, on every benchmark that times something (those the load guard refuses on a busy machine). */
function allowBusyOption(): Option {
  return new Option('--allow-busy', `run even when the 1-minute load average is above ${BUSY_LOAD_1M} (the JSON says busy: true)`);
}

/**
 * `rg bench <spec.name>`: the package's benchmark spec (the one its `nx run <project>:bench` runs) as a command.
 * Peers and data are looked for from the working folder, as rg's other paths are.
 */
export function registerBenchSpec(program: Command, ctx: CliContext, spec: BenchSpec): void {
  const cmd = benchCommand(program).command(spec.name).description(spec.description);
  addFlags(cmd, spec.flags);
  if (!spec.loadFree) cmd.addOption(allowBusyOption());
  cmd.option('--json', 'print one JSON line').action(async (opts: Record<string, string | boolean | undefined>, c: Command) => {
    const config = ctx.config(c.optsWithGlobals());
    const at = { cwd: ctx.io.cwd, root: ctx.io.cwd };
    try {
      const args = benchArgs(parseFlags(spec.flags, givenFlags(opts, spec.flags), at), {
        ...at,
        model: config.model,
        home: config.home,
        threads: config.threads,
        env: ctx.io.env,
        allowBusy: opts.allowBusy === true,
        loadavg: ctx.io.loadavg,
        say: (line) => ctx.info(line),
        progress: (label, total, unit) => ctx.progress(label, total, unit, opts.json === true),
      });
      const out = await spec.run(args);
      if (opts.json) ctx.json(out);
      else ctx.print(spec.print?.(out) ?? JSON.stringify(out, null, 2));
    } catch (e) {
      throw isBenchUsageError(spec, e) ? new UsageError(e.message) : e;
    }
  });
}
