import { resolve } from 'node:path';
import { ADAPTER_DTYPE_BENCH_DEFAULTS, adapterDtypeBench } from '@rg/engine/bench';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { positiveInt, positiveNumber } from '../parse.js';
import { benchCommand, benchRun } from './bench.js';

// The measuring is @rg/engine's (src/bench/adapter-dtype.ts, also `nx run engine:bench -- adapter-dtype`); this is its
// `rg` entry.

interface Flags {
  adapter?: string;
  rank: number;
  bStd: number;
  seed: number;
  json?: boolean;
}

export function registerBenchAdapterDtype(program: Command, ctx: CliContext): void {
  const d = ADAPTER_DTYPE_BENCH_DEFAULTS;
  benchCommand(program)
    .command('adapter-dtype')
    .description("storage dtypes of an adapter (fp32, fp16, int8): bytes, and the change in the model's next-token logits each causes")
    .option('--adapter <dir>', 'a PEFT LoRA folder to measure (default: a random rank-r adapter on gate/up/down)')
    .option('--rank <r>', 'rank of the random adapter', positiveInt, d.rank)
    .option('--b-std <s>', 'standard deviation of the random adapter B', positiveNumber, d.bStd)
    .option('--seed <s>', 'seed of the random adapter', positiveInt, d.seed)
    .option('--json', 'print one JSON line')
    .action(async (flags: Flags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      // Bytes and logit changes do not depend on load: record it, never refuse.
      const run = benchRun(ctx, { threads: config.threads, allowBusy: true });
      const result = await adapterDtypeBench({
        model: config.model,
        home: config.home,
        threads: config.threads,
        adapter: flags.adapter === undefined ? undefined : resolve(ctx.io.cwd, flags.adapter),
        rank: flags.rank,
        bStd: flags.bStd,
        seed: flags.seed,
      });
      const out = { bench: 'adapter-dtype', ...run.finish(), ...result };
      if (flags.json) ctx.json(out);
      else ctx.print(JSON.stringify(out, null, 2));
    });
}
