import { resolve } from 'node:path';
import { DEFAULT_TARGETS, WARMUP_ADAPTER_ID } from '@rg/lora-trainer';
import { type WarmupRequest, warmupReported } from '@rg/pipeline';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { nonNegativeInt, positiveInt, positiveNumber } from '../parse.js';
import { defaultAdapterStore, targetList } from '../train/common.js';
import { trainingErrorsAsUsage } from '../train/run.js';
import { adapterCommand } from './adapter.js';

/** rg adapter warmup's flags: the warm-up request before paths are resolved and the excluded sample is paired. */
interface WarmupFlags extends Omit<WarmupRequest, 'spec' | 'exclude' | 'store'> {
  dataset: string;
  excludeSample?: number;
  excludeSeed: number;
  store?: string;
  json?: boolean;
}

export function registerAdapterWarmup(program: Command, ctx: CliContext): void {
  adapterCommand(program)
    .command('warmup')
    .description(
      `train the warm-up adapter (PRAG's warmup_lora): question -> answer pairs of the task's own non-test questions teach the answer format; stored as ${WARMUP_ADAPTER_ID}, stacked under document adapters by rg encode/infer --warmup`,
    )
    .requiredOption('--dataset <name>', 'pubmedqa | popqa | chemprot | jsonl:TRAINING_QUESTIONS.jsonl')
    .option('--data-dir <dir>', 'folder holding pubmedqa/, popqa/ and chemprot/', '../shared/data')
    .option(
      '--split <split>',
      'where the questions come from: dev (PubMedQA, PopQA: the non-test half; the default) or train (ChemProt, the default; dev also allowed); test and all are refused',
    )
    .requiredOption('--n <n>', 'question -> answer pairs (a seeded sample of the split; PRAG uses 600-2,000)', positiveInt)
    .option(
      '--exclude-sample <n>',
      'leave out the questions `--sample n --seed s` of the same split evaluates (rg infer, rg bench e2e)',
      positiveInt,
    )
    .option('--exclude-seed <s>', 'seed of the left-out sample', nonNegativeInt, 0)
    .option('--store <dir>', 'adapter store (default: RG_HOME/adapters)')
    .option('--adapter-dataset <name>', 'dataset segment of the store key (default: the dataset name, as rg infer reads it)')
    .option('--rank <r>', 'LoRA rank', positiveInt, 2)
    .option('--alpha <a>', 'LoRA alpha', positiveNumber, 32)
    .option('--lr <lr>', 'AdamW learning rate', positiveNumber, 3e-4)
    .option('--epochs <n>', 'epochs over the pairs', positiveInt, 1)
    .option('--targets <list>', 'target modules (must match the stored base_weight)', targetList, [...DEFAULT_TARGETS])
    .option('--batch-size <n>', 'pairs per batch', positiveInt, 1)
    .option('--grad-accumulation <n>', 'batches per optimizer step', positiveInt, 1)
    .option('--seed <s>', 'seed of the sample of pairs, of shuffling and (if none is stored) of the base_weight init', nonNegativeInt, 0)
    .option('--max-tokens <n>', 'leave out pairs longer than this', positiveInt, 1024)
    .option('--json', 'print a JSON summary')
    .action(async (flags: WarmupFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const spec = flags.dataset.startsWith('jsonl:') ? `jsonl:${resolve(ctx.io.cwd, flags.dataset.slice(6))}` : flags.dataset;
      const { summary, line } = await warmupReported(ctx.reporter(flags.json), config, {
        ...flags,
        spec,
        dataDir: resolve(ctx.io.cwd, flags.dataDir),
        exclude: flags.excludeSample === undefined ? undefined : { sample: flags.excludeSample, seed: flags.excludeSeed },
        store: resolve(ctx.io.cwd, flags.store ?? defaultAdapterStore(config.home)),
      }).catch(trainingErrorsAsUsage('--store DIR'));
      if (flags.json) ctx.json(summary);
      else ctx.print(line);
    });
}
