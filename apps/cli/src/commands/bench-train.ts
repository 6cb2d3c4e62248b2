import { resolve } from 'node:path';
import { TRAIN_BENCH_DEFAULTS, type TrainBenchOptions, trainBench } from '@rg/lora-trainer/bench';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { positiveInt, positiveNumber } from '../parse.js';
import { targetList } from '../train/common.js';
import { allowBusyOption, benchCommand, benchRun } from './bench.js';

// The measuring is @rg/lora-trainer's (src/bench/train.ts, also `nx run lora-trainer:bench`); this is its `rg` entry.

type Flags = Omit<TrainBenchOptions, 'model' | 'home' | 'threads' | 'peer'> & {
  peer: boolean;
  python: string;
  allowBusy?: boolean;
  json?: boolean;
};

export function registerBenchTrain(program: Command, ctx: CliContext): void {
  const d = TRAIN_BENCH_DEFAULTS;
  benchCommand(program)
    .command('train')
    .description(
      'LoRA training steps (forward + backward + AdamW) on random tokens: tokens/s, ms/step, peak RSS, ORT vs JS share; peer PyTorch + PEFT',
    )
    .option('--seq <n>', 'tokens per sequence', positiveInt, d.seq)
    .option('--batch <n>', 'sequences per step', positiveInt, d.batch)
    .option('--rank <r>', 'LoRA rank', positiveInt, d.rank)
    .option('--alpha <a>', 'LoRA alpha', positiveNumber, d.alpha)
    .option('--targets <list>', 'target modules', targetList, [...d.targets])
    .option('--steps <n>', 'timed steps (median reported)', positiveInt, d.steps)
    .option('--warmup <n>', 'untimed steps first', positiveInt, d.warmup)
    .option('--no-peer', 'skip the PyTorch + PEFT peer')
    .option('--python <path>', 'Python with torch, transformers, peft (tools/.venv)', 'tools/.venv/bin/python')
    .addOption(allowBusyOption())
    .option('--json', 'print one JSON line')
    .action(async ({ peer, python, allowBusy, json, ...sizes }: Flags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const run = benchRun(ctx, { threads: config.threads, allowBusy: allowBusy ?? false });
      const result = await trainBench({
        model: config.model,
        home: config.home,
        threads: config.threads,
        ...sizes,
        peer: peer ? { python: resolve(ctx.io.cwd, python), script: resolve(ctx.io.cwd, 'tools/bench/train_peer.py') } : null,
      });
      const out = { bench: 'train', ...run.finish(), ...result };
      if (json) ctx.json(out);
      else ctx.print(JSON.stringify(out, null, 2));
    });
}
