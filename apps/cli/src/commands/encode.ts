import { join, resolve } from 'node:path';
import {
  DAPT_ADAPTER_ID,
  type EncodeContext,
  encodeDapt,
  encodeDocuments,
  encodeDocumentsMany,
  type GroupHooks,
  type GroupOutcome,
  type RecipeRecord,
} from '@rg/lora-trainer';
import type { Command } from 'commander';
import type { CliContext, Progress } from '../context.js';
import { UsageError } from '../errors.js';
import { positiveInt, positiveNumber } from '../parse.js';
import { defaultAdapterStore } from '../train/common.js';
import {
  addTrainerOptions,
  objectiveOption,
  openTrainingRun,
  readAugmentedInput,
  recipeMismatchAsUsage,
  type TrainerFlags,
  trainableRecords,
  trainerOptions,
  trainerRecipe,
} from '../train/run.js';
import { encodeOnQueue } from './encode-queue.js';

interface EncodeFlags extends TrainerFlags {
  input: string;
  store?: string;
  sample?: number;
  dapt?: boolean;
  json?: boolean;
  docsPerPass: number;
  queue?: string;
}

const keepBoth = recipeMismatchAsUsage('--store DIR or --dataset NAME');

const minutes = (s: number) => (s >= 90 ? `${(s / 60).toFixed(1)} min` : `${Math.round(s)} s`);

export function registerEncode(program: Command, ctx: CliContext): void {
  addTrainerOptions(
    program
      .command('encode')
      .description(
        'train one LoRA adapter per passage of an augmented file (or store its gradient), or with --dapt one on all passages, into the adapter store; resumable',
      )
      .requiredOption('--input <file>', 'augmented records (rg augment output, JSON lines)'),
    'passage',
  )
    .option('--store <dir>', 'adapter store (default: RG_HOME/adapters)')
    .option('--sample <n>', 'only the first n passages', positiveInt)
    .option('--dataset <name>', 'dataset segment of the store key (default: the input file name)')
    .option(
      '--dapt',
      `the continual-pretraining baseline instead: one adapter on every passage's examples together (id ${DAPT_ADAPTER_ID})`,
    )
    .option(
      '--warmup',
      'train every adapter on top of the stored warm-up adapter (rg adapter warmup) of the model and --dataset: frozen, its sha256 recorded with each adapter; apply them with rg infer --warmup',
    )
    .option('--json', 'print a JSON summary (and no per-passage lines)')
    .option(
      '--docs-per-pass <G>',
      'train G passages’ adapters together in each pass (same adapters as one at a time, up to float rounding)',
      positiveInt,
      1,
    )
    .option('--queue <url>', 'coordinate workers (rg worker) through Redis: redis://HOST:PORT/N; this process only stores their adapters')
    .addOption(objectiveOption())
    .option('--distill-topk <k>', 'teacher tokens kept per answer position (--objective distill|both; default 16)', positiveInt)
    .option('--distill-weight <w>', 'λ in loss = lm + λ × distill (--objective both; default 1)', positiveNumber)
    .action(async (flags: EncodeFlags, cmd: Command) => {
      const distills = flags.objective === 'distill' || flags.objective === 'both';
      if (!distills && flags.distillTopk !== undefined) throw new UsageError('--distill-topk: only with --objective distill or both');
      if (flags.objective !== 'both' && flags.distillWeight !== undefined)
        throw new UsageError('--distill-weight: only with --objective both');
      if (distills && flags.docsPerPass > 1)
        throw new UsageError(`--docs-per-pass: --objective ${flags.objective} trains one passage per pass`);
      if (distills && flags.queue) throw new UsageError(`--queue: the queue workers train --objective lm only`);
      if (flags.dapt && flags.docsPerPass > 1) throw new UsageError('--docs-per-pass: --dapt trains one adapter, not one per passage');
      if (flags.warmup && (flags as { queue?: string }).queue)
        throw new UsageError('--warmup: the queue workers train on the base model alone; encode without --queue to stack the warm-up');
      const config = ctx.config(cmd.optsWithGlobals());
      const { input, records } = await readAugmentedInput(ctx.io.cwd, flags.input);
      const usable = trainableRecords(records, (text) => ctx.info(text), flags.examples);
      const todo = flags.sample ? usable.slice(0, flags.sample) : usable;

      const storeDir = resolve(ctx.io.cwd, flags.store ?? defaultAdapterStore(config.home));
      if (flags.queue) return encodeOnQueue(ctx, { config, storeDir, input, flags: { ...flags, queue: flags.queue } }, todo);
      const run = await openTrainingRun(config, { storeDir, input, flags }, (text) => ctx.info(text));
      try {
        if (flags.dapt) await encodeDaptRun(ctx, flags, todo, run.encode);
        else await encodeEachDocument(ctx, flags, todo, run.encode);
      } finally {
        await run.close();
      }
    });
}

/** `rg encode`: one adapter per passage, a line per passage with rates and ETA, a summary line or JSON. */
async function encodeEachDocument(ctx: CliContext, flags: EncodeFlags, todo: RecipeRecord[], encode: EncodeContext): Promise<void> {
  const storeDir = encode.store.root;
  const bar = ctx.progress('encode', todo.length, 'docs', flags.json);
  const t0 = performance.now();
  let done = 0;
  let trainedDocs = 0;
  let tokens = 0;
  let trainMs = 0;
  try {
    const options = trainerOptions(flags);
    const hooks: GroupHooks = {
      onGroup: (o) => {
        done++;
        bar.tick();
        if (o.status === 'failed') ctx.info(`FAILED ${o.id}: ${o.error}`);
        if (o.status !== 'trained') return;
        trainedDocs++;
        tokens += o.tokens;
        trainMs += o.ms;
        const docsPerS = trainedDocs / (trainMs / 1000);
        if (!flags.json) {
          ctx.info(
            `[${done}/${todo.length}] ${o.id}: ${o.examples} examples, loss ${o.finalLoss.toFixed(3)} | ${docsPerS.toFixed(2)} docs/s, ${Math.round(tokens / (trainMs / 1000))} tokens/s, ETA ${minutes((todo.length - done) / docsPerS)}`,
          );
        }
      },
    };
    const outcomes = await (flags.docsPerPass > 1
      ? encodeDocumentsMany(todo, encode, { ...options, docsPerPass: flags.docsPerPass }, hooks)
      : encodeDocuments(todo, encode, options, hooks)
    ).catch(keepBoth);
    const count = (s: string) => outcomes.filter((o) => o.status === s).length;
    const seconds = (performance.now() - t0) / 1000;
    const summary = {
      store: storeDir,
      scope: encode.scope,
      mode: flags.mode,
      recipe: trainerRecipe(flags),
      passages: todo.length,
      trained: count('trained'),
      skipped: count('skipped'),
      failed: count('failed'),
      failedIds: outcomes.filter((o) => o.status === 'failed').map((o) => o.id),
      seconds: Math.round(seconds * 10) / 10,
      docsPerSecond: trainMs > 0 ? trainedDocs / (trainMs / 1000) : 0,
      tokensPerSecond: trainMs > 0 ? tokens / (trainMs / 1000) : 0,
    };
    if (flags.json) ctx.json(summary);
    else
      ctx.print(
        `encoded ${summary.trained}, skipped ${summary.skipped} (already stored), failed ${summary.failed} in ${minutes(seconds)} -> ${storeDir}`,
      );
    // A run in which every document it tried failed produced nothing: a failure, whatever the summary says.
    if (summary.failed > 0 && summary.trained === 0) {
      const first = outcomes.find((o) => o.status === 'failed');
      const why = first?.status === 'failed' ? `${first.id}: ${first.error}` : 'reasons above';
      throw new Error(`all ${summary.failed} documents to train failed (first: ${why})`);
    }
  } finally {
    bar.stop();
  }
}

/** `rg encode --dapt`: one adapter on all passages, progress per training step, a summary line or JSON. */
async function encodeDaptRun(ctx: CliContext, flags: EncodeFlags, records: RecipeRecord[], encode: EncodeContext): Promise<void> {
  // A long run: its state is saved beside the adapters about every minute, so an interrupted run goes on from there.
  const checkpoints = { dir: join(encode.store.root, '.checkpoints') };
  let bar: Progress = { tick() {}, stop() {} };
  let steps = 0;
  let loss = Number.NaN;
  const t0 = performance.now();
  let outcome: GroupOutcome;
  try {
    outcome = await encodeDapt(
      records,
      encode,
      trainerOptions(flags),
      {
        onGroupStart: (_group, { examples, batches, resumedBatches }) => {
          ctx.info(`DAPT: ${examples} examples from ${records.length} passages, ${batches} steps`);
          if (resumedBatches > 0) ctx.info(`DAPT: going on from the checkpoint after step ${resumedBatches} (${checkpoints.dir})`);
          bar = ctx.progress('dapt', batches, 'steps', flags.json);
          bar.tick(resumedBatches);
        },
        onBatch: (b) => {
          steps++;
          loss = b.loss;
          bar.tick(1, { note: `loss ${b.loss.toFixed(3)}` });
        },
      },
      checkpoints,
    ).catch(keepBoth);
  } finally {
    bar.stop();
  }
  const seconds = Math.round((performance.now() - t0) / 100) / 10;
  if (outcome.status === 'failed') throw new UsageError(`DAPT adapter: ${outcome.error}`);
  const entry = encode.store.get({ ...encode.scope, id: DAPT_ADAPTER_ID });
  const summary = {
    store: encode.store.root,
    scope: encode.scope,
    id: DAPT_ADAPTER_ID,
    mode: flags.mode,
    recipe: trainerRecipe(flags),
    passages: records.length,
    status: outcome.status,
    examples: outcome.status === 'trained' ? outcome.examples : (entry?.trainingConfig.examples ?? null),
    steps,
    finalLoss: outcome.status === 'trained' ? outcome.finalLoss : null,
    bytes: entry?.bytes ?? null,
    seconds,
  };
  if (flags.json) ctx.json(summary);
  else if (outcome.status === 'skipped')
    ctx.print(`DAPT adapter already stored for these ${records.length} passages -> ${encode.store.root}`);
  else
    ctx.print(
      `DAPT adapter trained on ${records.length} passages, ${steps} steps, final loss ${loss.toFixed(3)} in ${minutes(seconds)} -> ${encode.store.root}`,
    );
}
