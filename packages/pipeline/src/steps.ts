import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AdapterStore, DocAdapterKey } from '@rg/adapter-store';
import { type AugmentedRecord, TemplateAugmenter } from '@rg/augment';
import { type CorpusStore, contentHash } from '@rg/corpus';
import { type EncodeContext, type EncodeOptions, encodeGroups } from '@rg/lora-trainer';
import type { Retriever } from '@rg/retriever';
import type { JobDocument } from './jobs.js';
import type { CollectionRecipe } from './types.js';

/** What the steps of an add job work on: the collection's stores, opened once. */
export interface StepContext {
  corpus: CorpusStore;
  retriever: Retriever;
  adapters: AdapterStore;
  /** The adapters' key without the document id. */
  scope: Omit<DocAdapterKey, 'id'>;
  recipe: CollectionRecipe;
  /** Training checkpoints of long encodes, one folder per document. */
  checkpointsDir: string;
  /** The training run (session, base_weight), made on first use. */
  encodeContext(): Promise<EncodeContext>;
  /** Awaited before every training micro-batch: where training yields to answers in flight (RequestGate). */
  beforeTrainingBatch?: (signal: AbortSignal) => Promise<void>;
}

/** Why a step stopped early: the collection closes, or the job was cancelled. Not a failure of the job. */
export class Interrupted extends Error {
  override name = 'Interrupted';
}

/**
 * The document into the corpus store. Idempotent: the same content under its id is left as it is. New content under
 * a stored id replaces it, and its adapter and training checkpoint (trained on the old text) go first, so that a
 * crash in between still leaves no adapter of the old text beside the new text. The same content under another id is
 * an error naming that id (the store keeps one copy of a content).
 */
export function ingestStep(ctx: StepContext, doc: JobDocument): void {
  const hash = contentHash(doc);
  const stored = ctx.corpus.get(doc.id);
  if (stored?.contentHash === hash) return;
  const other = ctx.corpus.db.prepare('SELECT id FROM documents WHERE content_hash = ? AND id != ?').get(hash, doc.id) as
    | { id: string }
    | undefined;
  if (other) throw new Error(`the same title and text is already stored as document "${other.id}"`);
  if (stored) {
    ctx.adapters.delete({ ...ctx.scope, id: doc.id });
    rmSync(checkpointDir(ctx, doc.id), { recursive: true, force: true });
  }
  const result = ctx.corpus.add([doc], undefined, stored ? { replace: ctx.corpus.startReplacing() } : {});
  if (result.added + result.replaced !== 1) throw new Error(`the corpus store did not take the document (${JSON.stringify(result)})`);
}

/** The document into the retrieval index (add or replace by id: idempotent). */
export async function indexStep(ctx: StepContext, doc: JobDocument): Promise<void> {
  await ctx.retriever.add([{ id: doc.id, text: doc.text, title: doc.title, metadata: doc.metadata }]);
}

/** The template generator's rewrite and QA pairs (deterministic, no model): what the recipe trains on. */
export function augmentStep(ctx: StepContext, doc: JobDocument): Promise<AugmentedRecord> {
  return new TemplateAugmenter({ qaCount: ctx.recipe.qa }).augment({
    id: doc.id,
    text: doc.text,
    ...(doc.title !== undefined ? { title: doc.title } : {}),
  });
}

/**
 * One adapter for the document with the collection's recipe. Idempotent through lora-trainer: an adapter stored for
 * this document is skipped, and an interrupted training goes on from its last checkpoint. `signal` stops the training
 * between batches (the step then throws Interrupted).
 */
export async function encodeStep(ctx: StepContext, record: AugmentedRecord, signal: AbortSignal): Promise<void> {
  const encode = await ctx.encodeContext();
  const r = ctx.recipe;
  const options: EncodeOptions = {
    mode: 'lora',
    lr: r.lr,
    epochs: r.epochs,
    batchSize: 1,
    seed: r.seed,
    maxTokens: r.maxTokens,
    recipe: { examples: r.examples, loss: r.loss },
  };
  const stop = () => {
    if (signal.aborted) throw new Interrupted(String(signal.reason));
  };
  stop();
  const [outcome] = await encodeGroups(
    [{ adapterId: record.passageId, records: [record] }],
    encode,
    options,
    {
      beforeBatch: async () => {
        await ctx.beforeTrainingBatch?.(signal);
        stop();
      },
      onBatch: stop,
    },
    { dir: checkpointDir(ctx, record.passageId), everySeconds: 30 },
  );
  stop();
  if (outcome.status === 'failed') throw new Error(outcome.error);
}

/** A document's checkpoint folder: named by a hash of its id, which never becomes a path itself. */
export function checkpointDir(ctx: StepContext, documentId: string): string {
  return join(ctx.checkpointsDir, createHash('sha256').update(documentId).digest('hex').slice(0, 32));
}
