import { statSync } from 'node:fs';
import { type Augmenter, type AugmentRunSummary, type Passage, runAugment } from '@rg/augment';
import { type CorpusStore, formatFromPath, type IngestOptions, type IngestSummary, type InputFormat, ingest } from '@rg/corpus';
import type { MethodOutcome } from '@rg/inference';
import type { BackendName } from '@rg/retriever';
import { type BuildIndexOptions, type BuildIndexSummary, buildIndex } from './build-index.js';
import { type EncodeDaptSummary, encodeDaptFile } from './encode-dapt.js';
import { type EncodeFileOptions, type EncodeFileSummary, encodeAugmentedFile } from './encode-file.js';
import { type InferSettings, runInference } from './infer-dataset.js';

/** A counter a long step advances (the CLI draws it as a bar on a terminal). */
export interface Progress {
  tick(n?: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/**
 * Where the steps below report: lines for a person (what was done, what resumed, what failed) and progress counters.
 * The CLI prints the lines on stderr and draws the counters on a terminal; another caller can log or drop them.
 */
export interface Reporter {
  info(line: string): void;
  progress(label: string, total: number, unit: string): Progress;
}

/** A counter that counts nothing: what a step holds until its total is known, and what SILENT hands out. */
export const NO_PROGRESS: Progress = { tick() {}, stop() {} };

/** A reporter that drops everything. */
export const SILENT: Reporter = { info() {}, progress: () => NO_PROGRESS };

/** What a run of many steps (the demo, the end-to-end table) runs on and reports to. */
export interface RunEnvironment {
  /** The model as given (a known name, .gguf or folder), where models and caches live, onnxruntime threads. */
  model: string;
  home: string;
  threads: number;
  /** Environment variables the index backends read (their URLs and keys). */
  env: Record<string, string | undefined>;
  reporter: Reporter;
  steps: StepCounter;
}

/** Numbered "[i/total] label" lines, for a run of many steps (rg demo, the end-to-end table). */
export interface StepCounter {
  /** The next step. */
  announce(label: string): void;
  /** The next `count` steps are not run: one line for them, and the total shrinks by the rest. */
  skip(label: string, count: number): void;
}

export function stepCounter(r: Reporter, steps: number): StepCounter {
  let total = steps;
  let n = 0;
  return {
    skip(label, count) {
      n++;
      total -= count - 1;
      r.info(`[${n}/${total}] ${label}`);
    },
    announce(label) {
      n++;
      r.info(`[${n}/${total}] ${label}`);
    },
  };
}

/** A step that cannot start with what it was given (nothing to augment, a DAPT adapter that cannot be trained). */
export class StepInputError extends Error {
  override name = 'StepInputError';
}

/** Seconds as a person reads them: "42 s", "3.5 min". */
export const minutes = (s: number) => (s >= 90 ? `${(s / 60).toFixed(1)} min` : `${Math.round(s)} s`);

/** What ingestReported passes on to @rg/corpus ingest (the format defaults to the file name's). */
export type IngestReportedOptions = Omit<IngestOptions, 'input' | 'format' | 'onProgress'> & { format?: InputFormat };

/**
 * @rg/corpus ingest of a file into an open store, counted in KB (with the documents/s rate); then what a person must
 * know about the file: a checkpoint that could not be used, the first bad records by line, bytes that were not UTF-8;
 * then the summary (`output.summary`, default a line to the reporter). Resumes by itself; IngestError (a file it cannot
 * read as that format, a bad record with `strict`) passes through.
 */
export async function ingestReported(
  r: Reporter,
  store: CorpusStore,
  input: string,
  options: IngestReportedOptions = {},
  output: Pick<SummaryOutput<IngestSummary>, 'summary'> = {},
): Promise<IngestSummary> {
  const bar = r.progress(`ingest ${input}`, Math.max(1, Math.round(statSync(input).size / 1024)), 'KB');
  const t0 = performance.now();
  let shownKb = 0;
  try {
    const s = await ingest(store, {
      ...options,
      input,
      format: options.format ?? formatFromPath(input),
      onProgress: (p) => {
        const kb = Math.round(p.bytesRead / 1024);
        const docsPerSecond = p.records / Math.max((performance.now() - t0) / 1000, 1e-3);
        bar.tick(kb - shownKb, { rate: `${docsPerSecond.toFixed(0)} docs` });
        shownKb = kb;
      },
    });
    bar.stop();
    if (s.restarted) r.info(`${s.input}: read from the start: ${s.restarted} since the last ingest`);
    for (const b of s.badRecords.slice(0, 10)) r.info(`${s.input}:${b.line}: skipped: ${b.message}`);
    if (s.skipped > 10) r.info(`... ${s.skipped - 10} more bad records skipped`);
    if (s.invalidUtf8 > 0) {
      const lines = s.invalidUtf8Lines.slice(0, 10).join(', ');
      r.info(
        `${s.input}: warning: ${s.invalidUtf8} records are not valid UTF-8 (lines ${lines}${s.invalidUtf8 > 10 ? ', ...' : ''}); bad bytes were stored as U+FFFD`,
      );
    }
    const resumed = s.resumedFromByte > 0 ? ` (resumed at byte ${s.resumedFromByte})` : '';
    const replaced = s.replaced > 0 ? `${s.replaced} replaced (edited), ` : '';
    const line =
      `${s.records} records read${resumed}: ${s.added} added, ${replaced}${s.duplicates} duplicates, ${s.skipped} skipped; ` +
      `${s.documents} documents in ${store.dir} (${s.docsPerSecond.toFixed(0)} docs/s)`;
    (output.summary ?? ((l: string) => r.info(l)))(line, s);
    return s;
  } finally {
    bar.stop();
  }
}

/** buildIndex (with `options.fields`: the augmenter's tags and descriptions too), counted in documents, the summary as a line. */
export async function indexReported(
  r: Reporter,
  store: CorpusStore,
  backend: BackendName,
  options: Omit<BuildIndexOptions, 'onProgress'> = {},
): Promise<BuildIndexSummary> {
  const bar = r.progress(`index ${backend}`, Math.max(store.count(), 1), 'docs');
  let shown = 0;
  try {
    const s = await buildIndex(store.dir, store, backend, {
      ...options,
      onProgress: (done) => {
        bar.tick(done - shown);
        shown = done;
      },
    });
    bar.stop();
    r.info(
      `indexed ${s.documents} documents with ${backend} in ${s.seconds.toFixed(1)} s${options.fields ? `; ${s.withTags} with tags and description` : ''}`,
    );
    return s;
  } finally {
    bar.stop();
  }
}

/**
 * runAugment of passages into `output`, counted in passages, the summary as a line; a run in which every passage
 * failed is an error (nothing to train on). Passages already in `output` are skipped. The augmenter is closed after.
 */
export async function augmentReported(
  r: Reporter,
  passages: Passage[],
  output: string,
  augmenter: Augmenter,
  options: { concurrency?: number } = {},
): Promise<AugmentRunSummary> {
  let bar = NO_PROGRESS;
  try {
    if (passages.length === 0) throw new StepInputError(`nothing to augment into ${output}: no passages`);
    const s = await runAugment({
      passages,
      augmenter,
      outputPath: output,
      concurrency: options.concurrency,
      onStart: ({ passages, skipped }) => {
        if (skipped > 0) r.info(`resuming: ${skipped} of ${passages} passages already in ${output}`);
        bar = r.progress('augment', Math.max(1, passages - skipped), 'passages');
      },
      onRecord: (_record, p) => bar.tick(1, { note: ` | ${p.failed} failed` }),
    });
    bar.stop();
    r.info(`${s.processed} passages augmented (${s.skipped} already done): ${s.ok} ok, ${s.failed} failed -> ${output}`);
    if (s.processed > 0 && s.ok === 0) throw new Error(`all ${s.processed} passages failed (records kept in ${output})`);
    return s;
  } finally {
    bar.stop();
    await augmenter.close?.();
  }
}

/** How a training step reports its end: rg encode prints its summary on stdout, a pipeline step as a line. */
export interface SummaryOutput<S> {
  /** No line per trained document (rg encode --json). */
  terse?: boolean;
  /** Where the summary goes (default: a line to the reporter); called before a failure is thrown. */
  summary?: (line: string, summary: S) => void;
}

/**
 * encodeAugmentedFile counted in documents, a line per trained document (rates, ETA) and the summary; a run in which
 * every document it tried failed is an error. Stored adapters are skipped.
 */
export async function encodeReported(
  r: Reporter,
  options: EncodeFileOptions,
  output: SummaryOutput<EncodeFileSummary> = {},
): Promise<EncodeFileSummary> {
  let bar = NO_PROGRESS;
  try {
    const s = await encodeAugmentedFile(options, {
      onNote: (text) => r.info(text),
      onStart: (total) => {
        bar = r.progress('encode', total, 'docs');
      },
      onDocument: (o, p) => {
        bar.tick();
        if (o.status === 'failed') r.info(`FAILED ${o.id}: ${o.error}`);
        if (o.status === 'trained' && !output.terse)
          r.info(
            `[${p.done}/${p.total}] ${o.id}: ${o.examples} examples, loss ${o.finalLoss.toFixed(3)} | ${p.docsPerSecond.toFixed(2)} docs/s, ${Math.round(p.tokensPerSecond)} tokens/s, ETA ${minutes(p.etaSeconds)}`,
          );
      },
    });
    bar.stop();
    (output.summary ?? ((line: string) => r.info(line)))(
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
 * encodeDaptFile counted in steps, with the summary; a failed run is a StepInputError. A stored DAPT adapter for the
 * same records is skipped, an interrupted run goes on from its checkpoint.
 */
export async function daptReported(
  r: Reporter,
  options: EncodeFileOptions,
  output: SummaryOutput<EncodeDaptSummary> = {},
): Promise<EncodeDaptSummary> {
  let bar = NO_PROGRESS;
  let loss = Number.NaN;
  let s: EncodeDaptSummary;
  try {
    s = await encodeDaptFile(options, {
      onNote: (text) => r.info(text),
      onStart: ({ examples, passages, batches, resumedBatches, checkpoints }) => {
        r.info(`DAPT: ${examples} examples from ${passages} passages, ${batches} steps`);
        if (resumedBatches > 0) r.info(`DAPT: going on from the checkpoint after step ${resumedBatches} (${checkpoints})`);
        bar = r.progress('dapt', batches, 'steps');
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
  if (s.status === 'failed') throw new StepInputError(`DAPT adapter: ${s.error}`);
  (output.summary ?? ((line: string) => r.info(line)))(
    s.status === 'skipped'
      ? `DAPT adapter already stored for these ${s.passages} passages -> ${s.store}`
      : `DAPT adapter trained on ${s.passages} passages, ${s.steps} steps, final loss ${loss.toFixed(3)} in ${minutes(s.seconds)} -> ${s.store}`,
    s,
  );
  return s;
}

/** runInference with one counter per method, in questions. */
export function inferReported(r: Reporter, settings: InferSettings): Promise<MethodOutcome[]> {
  let bar = NO_PROGRESS;
  return runInference(settings, {
    onMethodStart: (method, total) => {
      bar.stop();
      bar = r.progress(method, total, 'q');
    },
    onAnswer: () => bar.tick(),
  }).finally(() => bar.stop());
}
