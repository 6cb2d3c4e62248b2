import type { AdapterStore, DocAdapterKey, LoraAdapter, LoraPair } from '@rg/adapter-store';
import type { TrainingSession } from '@rg/engine';
import { type ChatEncoder, type RecipeRecord, recipeExamples } from './recipe.js';
import { type TrainMode, trainAdapter } from './trainer.js';

export interface EncodeOptions {
  mode: TrainMode;
  lr: number;
  epochs: number;
  batchSize: number;
  gradAccumulation?: number;
  seed?: number;
  /** Examples longer than this many tokens are left out. */
  maxTokens?: number;
}

export interface EncodeContext {
  session: TrainingSession;
  encoder: ChatEncoder;
  store: AdapterStore;
  /** The shared initial adapter (base_weight) every document starts from. */
  base: LoraAdapter;
  /** Store key without the document id: model, rank, alpha, dataset, lr, epochs. */
  scope: Omit<DocAdapterKey, 'id'>;
  modelFingerprint: string;
}

export type DocOutcome =
  | { id: string; status: 'trained'; examples: number; tokens: number; finalLoss: number; ms: number }
  | { id: string; status: 'skipped'; reason: string }
  | { id: string; status: 'failed'; error: string };

/**
 * One adapter per document, saved in the store under scope + passage id. Resumable: a document whose
 * adapter is already stored and verifies is skipped. A document that fails is reported with its id
 * and the run goes on.
 */
export async function encodeDocuments(
  records: Iterable<RecipeRecord>,
  ctx: EncodeContext,
  options: EncodeOptions,
  onDoc?: (outcome: DocOutcome) => void,
): Promise<DocOutcome[]> {
  const outcomes: DocOutcome[] = [];
  const scale = ctx.base.config.alpha / ctx.base.config.rank;
  for (const record of records) {
    const key: DocAdapterKey = { ...ctx.scope, id: record.passageId };
    let outcome: DocOutcome;
    try {
      if (ctx.store.get(key) && ctx.store.verify(key, { modelFingerprint: ctx.modelFingerprint }).ok) {
        outcome = { id: record.passageId, status: 'skipped', reason: 'already stored' };
      } else {
        const t0 = performance.now();
        const { examples, dropped } = recipeExamples(record, ctx.encoder, { seed: options.seed, maxTokens: options.maxTokens });
        if (examples.length === 0) throw new Error(`no training examples (${record.qa.length} QA pairs, ${dropped} over the token limit)`);
        const result = await trainAdapter(ctx.session, ctx.base.modules, examples, { ...options, scale });
        const modules = new Map<string, LoraPair>();
        for (const [k, t] of result.tensors) {
          const base = ctx.base.modules.get(k) as LoraPair;
          modules.set(k, {
            inFeatures: base.inFeatures,
            outFeatures: base.outFeatures,
            a: Float32Array.from(t.a),
            b: Float32Array.from(t.b),
          });
        }
        ctx.store.put(
          key,
          { config: ctx.base.config, modules },
          {
            modelFingerprint: ctx.modelFingerprint,
            mode: options.mode === 'lora' ? 'trained' : 'gradient',
            trainingConfig: { ...options, examples: examples.length, droppedExamples: dropped, losses: result.losses },
          },
        );
        outcome = {
          id: record.passageId,
          status: 'trained',
          examples: examples.length,
          tokens: result.tokens,
          finalLoss: result.losses[result.losses.length - 1],
          ms: performance.now() - t0,
        };
      }
    } catch (e) {
      outcome = { id: record.passageId, status: 'failed', error: (e as Error).message };
    }
    outcomes.push(outcome);
    onDoc?.(outcome);
  }
  return outcomes;
}
