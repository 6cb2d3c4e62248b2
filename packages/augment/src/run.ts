import { AugmentOutput } from './files.js';
import { type Augmenter, FatalGeneratorError, type Passage } from './generator.js';
import type { AugmentedRecord } from './record.js';

export interface AugmentRunOptions {
  passages: Passage[];
  augmenter: Augmenter;
  /** JSONL file; appended to, and read first so passages already in it are skipped. */
  outputPath: string;
  /** Passages augmented at once (default 1). */
  concurrency?: number;
  /** Base seed; each passage's seed derives from it and its id, so a resumed run makes the same choices. */
  seed?: number;
  /** Augment again the passages whose last record failed (default: skip them like the others). */
  retryFailed?: boolean;
  /** Abort (e.g. on Ctrl-C): no new passage starts; records already written stay. */
  signal?: AbortSignal;
  /** Called once the output has been read, before the first passage starts. */
  onStart?: (info: { passages: number; skipped: number }) => void;
  /** Called after each record is written. */
  onRecord?: (record: AugmentedRecord, progress: { done: number; failed: number }) => void;
}

export interface AugmentRunSummary {
  generator: string;
  promptVersion: string;
  output: string;
  /** Passages in the input. */
  passages: number;
  /** Already in the output before this run, so skipped. */
  skipped: number;
  /** Augmented by this run. */
  processed: number;
  ok: number;
  failed: number;
  /** Of this run's passages: share with status ok (a rewrite and at least one valid QA pair). */
  validShare: number;
  /** Valid QA pairs kept, per processed passage. */
  qaPerPassage: number;
  /** Of the well-formed QA pairs the generator proposed, the share whose answer is grounded in the passage. */
  groundedShare: number;
  generatorCalls: number;
  elapsedMs: number;
  passagesPerMin: number;
  /** Bytes of a torn last line cut from the output on opening. */
  tornBytesRemoved: number;
  interrupted: boolean;
  /** Most frequent failure reasons with counts. */
  failureReasons: Array<{ reason: string; count: number }>;
}

/** FNV-1a of the id: a per-passage seed offset that does not depend on the order or the sample. */
function idHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Failure reasons grouped without their passage-specific details (quoted text, numbers). */
function reasonKey(reason: string): string {
  return reason.replace(/"[^"]*"/g, '"..."').replace(/\d+/g, 'N');
}

/**
 * Augment every passage not yet in the output. One bad output never stops the run (the passage is recorded as
 * failed with its reason); a FatalGeneratorError (bad URL, refused key) does, after in-flight passages finish.
 */
export async function runAugment(options: AugmentRunOptions): Promise<AugmentRunSummary> {
  const { augmenter, signal } = options;
  const output = await AugmentOutput.open(options.outputPath);
  const isDone = (p: Passage) => {
    const prior = output.done.get(p.id);
    return prior !== undefined && !(options.retryFailed && prior.status === 'failed');
  };
  const todo = options.passages.filter((p) => !isDone(p));
  const skipped = options.passages.length - todo.length;
  options.onStart?.({ passages: options.passages.length, skipped });
  const processed: AugmentedRecord[] = [];
  let failed = 0;
  let fatal: unknown;
  let next = 0;
  const started = Date.now();

  const worker = async () => {
    while (!signal?.aborted && fatal === undefined) {
      const passage = todo[next++];
      if (passage === undefined) return;
      let record: AugmentedRecord;
      try {
        record = await augmenter.augment(passage, { seed: ((options.seed ?? 0) + idHash(passage.id)) % 2 ** 31, signal });
      } catch (e) {
        if (signal?.aborted) return;
        if (e instanceof FatalGeneratorError) {
          fatal ??= e;
          return;
        }
        record = {
          passageId: passage.id,
          ...(passage.title !== undefined ? { title: passage.title } : {}),
          passage: passage.text,
          rewrite: null,
          qa: [],
          tags: [],
          description: '',
          generator: augmenter.generator,
          promptVersion: augmenter.promptVersion,
          status: 'failed',
          failureReason: `error: ${(e as Error).message ?? String(e)}`,
        };
      }
      await output.append(record);
      processed.push(record);
      if (record.status === 'failed') failed++;
      options.onRecord?.(record, { done: skipped + processed.length, failed });
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 1) }, worker));
  } finally {
    await output.close();
  }
  if (fatal !== undefined) throw fatal;

  const elapsedMs = Date.now() - started;
  const ok = processed.filter((r) => r.status === 'ok').length;
  const proposed = processed.reduce((s, r) => s + (r.diagnostics?.qaProposed ?? 0), 0);
  const grounded = processed.reduce((s, r) => s + (r.diagnostics?.qaGrounded ?? 0), 0);
  const reasons = new Map<string, number>();
  for (const r of processed) {
    for (const part of r.failureReason?.split('; ') ?? []) reasons.set(reasonKey(part), (reasons.get(reasonKey(part)) ?? 0) + 1);
  }
  const n = processed.length;
  return {
    generator: augmenter.generator,
    promptVersion: augmenter.promptVersion,
    output: options.outputPath,
    passages: options.passages.length,
    skipped,
    processed: n,
    ok,
    failed,
    validShare: n === 0 ? 0 : ok / n,
    qaPerPassage: n === 0 ? 0 : processed.reduce((s, r) => s + r.qa.length, 0) / n,
    groundedShare: proposed === 0 ? 0 : grounded / proposed,
    generatorCalls: processed.reduce((s, r) => s + (r.diagnostics?.calls ?? 0), 0),
    elapsedMs,
    passagesPerMin: elapsedMs === 0 ? 0 : (n / elapsedMs) * 60_000,
    tornBytesRemoved: output.tornBytesRemoved,
    interrupted: signal?.aborted === true && skipped + n < options.passages.length,
    failureReasons: [...reasons.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([reason, count]) => ({ reason, count })),
  };
}
