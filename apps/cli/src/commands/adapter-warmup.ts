import { resolve } from 'node:path';
import type { ManifestEntry } from '@rg/adapter-store';
import type { LoraTarget } from '@rg/engine';
import { buildMessages, type Dataset, DatasetError, loadDataset, type QaExample, sampleExamples } from '@rg/inference';
import { DEFAULT_TARGETS, type EncodeContext, trainWarmup, WARMUP_ADAPTER_ID, type WarmupPair } from '@rg/lora-trainer';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { nonNegativeInt, positiveInt, positiveNumber } from '../parse.js';
import { defaultAdapterStore, targetList } from '../train/common.js';
import { openTrainingRun } from '../train/run.js';
import { adapterCommand } from './adapter.js';

interface WarmupFlags {
  dataset: string;
  dataDir: string;
  split?: string;
  n: number;
  excludeSample?: number;
  excludeSeed: number;
  store?: string;
  adapterDataset?: string;
  rank: number;
  alpha: number;
  lr: number;
  epochs: number;
  targets: LoraTarget[];
  batchSize: number;
  gradAccumulation: number;
  seed: number;
  maxTokens: number;
  json?: boolean;
}

/**
 * The split a dataset's warm-up questions come from by default: its training split where rg has one (ChemProt's
 * train.txt), else the non-test half of the fixed split (PubMedQA's and PopQA's dev).
 */
export function defaultWarmupSplit(dataset: string): string | undefined {
  if (dataset.startsWith('jsonl:')) return undefined;
  return dataset === 'chemprot' ? 'train' : 'dev';
}

/**
 * The dataset's questions the warm-up may train on: `split` as loaded (never `test`, nor `all`, which holds the test
 * questions), without the `exclude` sample (the questions an evaluation of the same split will ask).
 */
export function warmupCandidates(
  spec: string,
  options: { dataDir: string; split?: string; exclude?: { sample: number; seed: number } },
): { dataset: Dataset; split: string; candidates: QaExample[]; excluded: number } {
  const jsonl = spec.startsWith('jsonl:');
  if (jsonl && options.split !== undefined)
    throw new UsageError('--split: a jsonl: file is one split (give a file of training questions, not of test questions)');
  const split = jsonl ? undefined : (options.split ?? defaultWarmupSplit(spec));
  if (split === 'test' || split === 'all')
    throw new UsageError(
      `--split ${split}: the warm-up never trains on test questions${split === 'all' ? ' (all holds them)' : ''}; expected ${spec === 'chemprot' ? 'train or dev' : 'dev'} (the questions outside the test split)`,
    );
  let dataset: Dataset;
  try {
    dataset = loadDataset(spec, { dataDir: options.dataDir, split });
  } catch (e) {
    throw e instanceof DatasetError ? new UsageError(e.message) : e;
  }
  const left = options.exclude
    ? new Set(sampleExamples(dataset.examples, options.exclude.sample, options.exclude.seed).map((e) => e.id))
    : new Set();
  const candidates = dataset.examples.filter((e) => !left.has(e.id));
  return { dataset, split: split ?? 'file', candidates, excluded: left.size };
}

/** A question as a warm-up pair: the closed-book prompt the answerer sends, and the first accepted answer. */
export function warmupPair(example: QaExample, instruction: string | undefined): WarmupPair {
  const [message] = buildMessages(example.question, { instruction });
  return { id: example.id, prompt: message.content, answer: example.answers[0] };
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
      const { dataset, split, candidates, excluded } = warmupCandidates(spec, {
        dataDir: resolve(ctx.io.cwd, flags.dataDir),
        split: flags.split,
        exclude: flags.excludeSample === undefined ? undefined : { sample: flags.excludeSample, seed: flags.excludeSeed },
      });
      const chosen = sampleExamples(candidates, flags.n, flags.seed);
      if (chosen.length < flags.n)
        ctx.info(`--n ${flags.n}: the ${split} split has ${candidates.length} questions left to train on; using all of them`);
      const pairs = chosen.map((e) => warmupPair(e, dataset.instruction));
      const storeDir = resolve(ctx.io.cwd, flags.store ?? defaultAdapterStore(config.home));
      const segment = flags.adapterDataset ?? dataset.name;
      const run = await openTrainingRun(config, { storeDir, input: segment, flags: { ...flags, dataset: segment } }, (t) => ctx.info(t));
      const stored = storedSameWarmup(run.encode, pairs, flags);
      if (stored) {
        await run.close();
        const summary = {
          store: storeDir,
          key: stored.key,
          path: stored.path,
          sha256: stored.contentHash,
          status: 'skipped',
          pairs: pairs.length,
        };
        if (flags.json) ctx.json(summary);
        else ctx.print(`warm-up adapter already stored for these ${pairs.length} questions and settings -> ${stored.path}`);
        return;
      }
      const bar = ctx.progress('warmup', chosen.length * flags.epochs, 'pairs', flags.json);
      try {
        const t0 = performance.now();
        const outcome = await trainWarmup(pairs, run.encode, {
          source: { dataset: dataset.name, split },
          batchSize: flags.batchSize,
          gradAccumulation: flags.gradAccumulation,
          seed: flags.seed,
          maxTokens: flags.maxTokens,
          onBatch: (b) => bar.tick(flags.batchSize, { note: `loss ${b.loss.toFixed(3)}` }),
        });
        bar.stop();
        const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
        const tenth = Math.max(1, Math.floor(outcome.losses.length / 10));
        const summary = {
          store: storeDir,
          key: outcome.key,
          path: outcome.entry.path,
          sha256: outcome.entry.contentHash,
          dataset: dataset.name,
          split,
          pairs: outcome.questionIds.length,
          excludedQuestions: excluded,
          droppedPairs: outcome.dropped,
          // First and last tenth of the batches: the loss on the pairs as training goes (one epoch sees each once).
          lossFirstTenth: mean(outcome.losses.slice(0, tenth)),
          lossLastTenth: mean(outcome.losses.slice(-tenth)),
          seconds: Math.round((performance.now() - t0) / 100) / 10,
          status: 'trained',
        };
        if (flags.json) ctx.json(summary);
        else
          ctx.print(
            `warm-up adapter trained on ${summary.pairs} ${dataset.name} ${split} questions (loss ${summary.lossFirstTenth.toFixed(3)} -> ${summary.lossLastTenth.toFixed(3)}) in ${summary.seconds} s -> ${summary.path}`,
          );
      } finally {
        bar.stop();
        await run.close();
      }
    });
}

/**
 * The stored warm-up when it was trained on these questions with these settings (and verifies): a rerun (rg bench
 * e2e resuming) keeps it rather than training it again, which could change its sha256 under document adapters
 * already trained on top of it.
 */
function storedSameWarmup(ctx: EncodeContext, pairs: WarmupPair[], flags: WarmupFlags): ManifestEntry | undefined {
  const key = { ...ctx.scope, id: WARMUP_ADAPTER_ID };
  const entry = ctx.store.get(key);
  const c = entry?.trainingConfig;
  if (!entry || c?.kind !== 'warmup') return undefined;
  // Pairs over --max-tokens are not in questionIds: such a run never matches and trains again.
  const ids = Array.isArray(c.questionIds) ? c.questionIds.join('\u0000') : '';
  const same =
    ids === pairs.map((p) => p.id).join('\u0000') &&
    c.seed === flags.seed &&
    c.batchSize === flags.batchSize &&
    c.gradAccumulation === flags.gradAccumulation &&
    c.maxTokens === flags.maxTokens;
  return same && ctx.store.verify(key, { modelFingerprint: ctx.modelFingerprint }).ok ? entry : undefined;
}
