import { statSync } from 'node:fs';
import { type Augmenter, type AugmentRunSummary, type Passage, runAugment } from '@rg/augment';
import { type CorpusStore, formatFromPath, type IngestSummary, type InputFormat, ingest } from '@rg/corpus';
import { pullModel } from '@rg/engine';
import { COMPOSE_MODES, type MethodOutcome } from '@rg/inference';
import {
  type BuildIndexOptions,
  type BuildIndexSummary,
  buildIndex,
  type EncodeDaptSummary,
  type EncodeFileOptions,
  type EncodeFileSummary,
  encodeAugmentedFile,
  encodeDaptFile,
} from '@rg/pipeline';
import type { BackendName } from '@rg/retriever';
import { Option } from 'commander';
import { pullReporter } from '../commands/model.js';
import type { Config } from '../config.js';
import type { CliContext, Progress } from '../context.js';
import { UsageError } from '../errors.js';
import { positiveNumber } from '../parse.js';
import { type InferSettings, runInference } from './pipeline.js';

/** Numbered "[i/total] label" announcements on stderr, for commands that run the pipeline step by step. */
export function stepCounter(ctx: CliContext, steps: number) {
  let total = steps;
  let n = 0;
  return {
    /** Announce that the next `count` steps are not run (numbering goes on without them). */
    skip(label: string, count: number): void {
      n++;
      total -= count - 1;
      ctx.info(`[${n}/${total}] ${label}`);
    },
    /** Announce the next step. */
    announce(label: string): void {
      n++;
      ctx.info(`[${n}/${total}] ${label}`);
    },
  };
}

/** @rg/engine pullModel of a known model into RG_HOME/models (a no-op when present and verified), with rg model pull's bars. */
export async function pullStep(ctx: CliContext, name: string, home: string, quiet?: boolean): Promise<void> {
  const progress = pullReporter(ctx, Boolean(quiet));
  try {
    const result = await pullModel(name, home, { onProgress: progress.report });
    ctx.info(result.downloaded ? `pulled ${name} into ${result.path}` : `${name} already present and verified`);
  } finally {
    progress.stop();
  }
}

/**
 * @rg/corpus ingest of a file into an open store (`format`: default from the file name), a KB progress bar, the
 * summary on stderr. Resumes by itself; a file it cannot read as that format is a usage error.
 */
export async function ingestStep(
  ctx: CliContext,
  store: CorpusStore,
  input: string,
  quiet?: boolean,
  format: InputFormat = formatFromPath(input),
): Promise<IngestSummary> {
  const bar = ctx.progress(`ingest ${input}`, Math.max(1, Math.round(statSync(input).size / 1024)), 'KB', quiet);
  let shownKb = 0;
  try {
    const s = await ingest(store, {
      input,
      format,
      onProgress: (p) => {
        const kb = Math.round(p.bytesRead / 1024);
        bar.tick(kb - shownKb);
        shownKb = kb;
      },
    });
    bar.stop();
    ctx.info(
      `${s.records} records read: ${s.added} added, ${s.duplicates} duplicates, ${s.skipped} skipped; ${s.documents} documents in ${store.dir}`,
    );
    return s;
  } finally {
    bar.stop();
  }
}

/** @rg/pipeline buildIndex (with `fields`: the augmenter's tags and descriptions too), a progress bar, the summary on stderr. */
export async function indexStep(
  ctx: CliContext,
  config: Config,
  store: CorpusStore,
  backend: BackendName,
  quiet?: boolean,
  fields?: BuildIndexOptions['fields'],
): Promise<BuildIndexSummary> {
  const bar = ctx.progress(`index ${backend}`, Math.max(store.count(), 1), 'docs', quiet);
  let shown = 0;
  try {
    const s = await buildIndex(store.dir, store, backend, {
      home: config.home,
      threads: config.threads,
      env: ctx.io.env,
      fields,
      onProgress: (done) => {
        bar.tick(done - shown);
        shown = done;
      },
    });
    bar.stop();
    ctx.info(
      `indexed ${s.documents} documents with ${backend} in ${s.seconds.toFixed(1)} s${fields ? `; ${s.withTags} with tags and description` : ''}`,
    );
    return s;
  } finally {
    bar.stop();
  }
}

/**
 * @rg/augment runAugment of passages into `output` with a progress bar and the summary on stderr; a run in which
 * every passage failed is an error (nothing to train on). Passages already in `output` are skipped. The augmenter
 * is closed after it.
 */
export async function augmentStep(
  ctx: CliContext,
  passages: Passage[],
  output: string,
  augmenter: Augmenter,
  options: { quiet?: boolean; concurrency?: number } = {},
): Promise<AugmentRunSummary> {
  let bar: Progress = { tick() {}, stop() {} };
  try {
    if (passages.length === 0) throw new UsageError(`nothing to augment into ${output}: no passages`);
    const s = await runAugment({
      passages,
      augmenter,
      outputPath: output,
      concurrency: options.concurrency,
      onStart: ({ passages, skipped }) => {
        if (skipped > 0) ctx.info(`resuming: ${skipped} of ${passages} passages already in ${output}`);
        bar = ctx.progress('augment', Math.max(1, passages - skipped), 'passages', options.quiet);
      },
      onRecord: (_record, p) => bar.tick(1, { note: ` | ${p.failed} failed` }),
    });
    bar.stop();
    ctx.info(`${s.processed} passages augmented (${s.skipped} already done): ${s.ok} ok, ${s.failed} failed -> ${output}`);
    if (s.processed > 0 && s.ok === 0) throw new Error(`all ${s.processed} passages failed (records kept in ${output})`);
    return s;
  } finally {
    bar.stop();
    await augmenter.close?.();
  }
}

export const minutes = (s: number) => (s >= 90 ? `${(s / 60).toFixed(1)} min` : `${Math.round(s)} s`);

/** How a training step reports: rg encode prints its summary on stdout, a pipeline step everything on stderr. */
export interface StepOutput<S> {
  /** No progress bar (--json). */
  quiet?: boolean;
  /** No line per trained document (rg encode --json). */
  terse?: boolean;
  /** Where the summary goes (default: its line on stderr, with the step's other lines); before a failure is thrown. */
  summary?: (line: string, summary: S) => void;
}

/**
 * @rg/pipeline encodeAugmentedFile with a progress bar, a line per trained document (rates, ETA) and the summary;
 * a run in which every document it tried failed is an error. Stored adapters are skipped.
 */
export async function encodeStep(
  ctx: CliContext,
  options: EncodeFileOptions,
  output: StepOutput<EncodeFileSummary> = {},
): Promise<EncodeFileSummary> {
  let bar: Progress = { tick() {}, stop() {} };
  try {
    const s = await encodeAugmentedFile(options, {
      onNote: (text) => ctx.info(text),
      onStart: (total) => {
        bar = ctx.progress('encode', total, 'docs', output.quiet);
      },
      onDocument: (o, p) => {
        bar.tick();
        if (o.status === 'failed') ctx.info(`FAILED ${o.id}: ${o.error}`);
        if (o.status === 'trained' && !output.terse)
          ctx.info(
            `[${p.done}/${p.total}] ${o.id}: ${o.examples} examples, loss ${o.finalLoss.toFixed(3)} | ${p.docsPerSecond.toFixed(2)} docs/s, ${Math.round(p.tokensPerSecond)} tokens/s, ETA ${minutes(p.etaSeconds)}`,
          );
      },
    });
    bar.stop();
    (output.summary ?? ((line: string) => ctx.info(line)))(
      `encoded ${s.trained}, skipped ${s.skipped} (already stored), failed ${s.failed} in ${minutes(s.seconds)} -> ${s.store}`,
      s,
    );
    const first = s.outcomes.find((o) => o.status === 'failed');
    if (first?.status === 'failed' && s.trained === 0)
      throw new Error(`all ${s.failed} documents to train failed (first: ${first.id}: ${first.error})`);
    return s;
  } finally {
    bar.stop();
  }
}

/**
 * @rg/pipeline encodeDaptFile with a progress bar over its steps and the summary; a failed run is an error.
 * A stored DAPT adapter for the same records is skipped, an interrupted run goes on from its checkpoint.
 */
export async function daptStep(
  ctx: CliContext,
  options: EncodeFileOptions,
  output: StepOutput<EncodeDaptSummary> = {},
): Promise<EncodeDaptSummary> {
  let bar: Progress = { tick() {}, stop() {} };
  let loss = Number.NaN;
  let s: EncodeDaptSummary;
  try {
    s = await encodeDaptFile(options, {
      onNote: (text) => ctx.info(text),
      onStart: ({ examples, passages, batches, resumedBatches, checkpoints }) => {
        ctx.info(`DAPT: ${examples} examples from ${passages} passages, ${batches} steps`);
        if (resumedBatches > 0) ctx.info(`DAPT: going on from the checkpoint after step ${resumedBatches} (${checkpoints})`);
        bar = ctx.progress('dapt', batches, 'steps', output.quiet);
        bar.tick(resumedBatches);
      },
      onBatch: (l) => {
        loss = l;
        bar.tick(1, { note: `loss ${l.toFixed(3)}` });
      },
    });
  } finally {
    bar.stop();
  }
  if (s.status === 'failed') throw new UsageError(`DAPT adapter: ${s.error}`);
  (output.summary ?? ((line: string) => ctx.info(line)))(
    s.status === 'skipped'
      ? `DAPT adapter already stored for these ${s.passages} passages -> ${s.store}`
      : `DAPT adapter trained on ${s.passages} passages, ${s.steps} steps, final loss ${loss.toFixed(3)} in ${minutes(s.seconds)} -> ${s.store}`,
    s,
  );
  return s;
}

/** runInference with one progress bar per method (TTY only, none when quiet). */
export async function inferWithProgress(ctx: CliContext, settings: InferSettings, quiet: boolean | undefined): Promise<MethodOutcome[]> {
  let bar: Progress | undefined;
  return runInference(settings, {
    onMethodStart: (method, total) => {
      bar?.stop();
      bar = ctx.progress(method, total, 'q', quiet);
    },
    onAnswer: () => bar?.tick(),
  }).finally(() => bar?.stop());
}

/** `--adapter-scale`: every composition weight times s (rg infer, rg bench e2e). */
export function adapterScaleOption(): Option {
  return new Option(
    '--adapter-scale <s>',
    'multiply the composed adapters’ weights (after --compose) by s: below 1 they act more weakly; answers go to a folder of their own (-s<s>)',
  ).argParser(positiveNumber);
}

/** `--compose`: how the composed adapters are weighted (rg infer, and commands that answer through runInference). */
export function composeOption(): Option {
  return new Option(
    '--compose <mode>',
    'weights of the k composed adapters (cat_all_one, combine, oracle, cluster): cat = 1 each (their sum), mean = 1/k, score = retrieval scores normalised to sum 1 (1/k without retrieval: oracle, cluster)',
  )
    .choices(COMPOSE_MODES)
    .default('cat');
}
