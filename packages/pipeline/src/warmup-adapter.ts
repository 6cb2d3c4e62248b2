import type { AdapterKey } from '@rg/adapter-store';
import { type EncodeContext, trainWarmup, WARMUP_ADAPTER_ID, type WarmupPair } from '@rg/lora-trainer';
import { type TrainingRunOptions, withTrainingRun } from './encode-file.js';

export interface WarmupAdapterOptions extends Omit<TrainingRunOptions, 'warmup' | 'training'> {
  /** lr and epochs are part of the store key; `seed` seeds shuffling (and a base_weight initialised now). */
  training: { lr: number; epochs: number; seed: number; batchSize: number; gradAccumulation: number; maxTokens: number };
  /** The question -> answer pairs, and where they come from (never a split holding test questions). */
  pairs: WarmupPair[];
  source: { dataset: string; split: string };
}

export interface WarmupAdapterHooks {
  /** A line for the user (a base_weight initialised). */
  onNote?: (text: string) => void;
  /** Before the first batch (not called when the stored warm-up is kept). */
  onStart?: (pairs: number) => void;
  /** After each batch of `training.batchSize` pairs. */
  onBatch?: (loss: number) => void;
}

interface StoredWarmup {
  key: AdapterKey;
  /** The stored file and its sha256. */
  path: string;
  sha256: string;
  /** Pairs given. */
  pairs: number;
}

export type WarmupAdapterSummary =
  | (StoredWarmup & { status: 'skipped' })
  | (StoredWarmup & {
      status: 'trained';
      /** Pairs trained on (those over maxTokens are dropped). */
      trainedPairs: number;
      droppedPairs: number;
      /** Mean loss of the first and last tenth of the batches: the loss on the pairs as training goes. */
      lossFirstTenth: number;
      lossLastTenth: number;
      seconds: number;
    });

/**
 * The warm-up adapter (PRAG's warmup_lora): question -> answer pairs of the task's own non-test questions teach the
 * answer format; stored as WARMUP_ADAPTER_ID in the store's scope, where encode and inference with `warmup` find it.
 * A stored warm-up trained on the same questions with the same settings (and verifying) is kept, not retrained: a
 * resumed run must not change the sha256 that document adapters trained on top of it record.
 */
export async function trainWarmupAdapter(options: WarmupAdapterOptions, hooks: WarmupAdapterHooks = {}): Promise<WarmupAdapterSummary> {
  const note = hooks.onNote ?? (() => {});
  const session = { batchedAdapters: false, distill: false };
  return withTrainingRun(options, note, session, async (encode) => {
    const { pairs, training } = options;
    const stored = storedSameWarmup(encode, pairs, training);
    if (stored) return { status: 'skipped', key: stored.key, path: stored.path, sha256: stored.contentHash, pairs: pairs.length };
    hooks.onStart?.(pairs.length);
    const t0 = performance.now();
    const outcome = await trainWarmup(pairs, encode, {
      source: options.source,
      batchSize: training.batchSize,
      gradAccumulation: training.gradAccumulation,
      seed: training.seed,
      maxTokens: training.maxTokens,
      onBatch: (b) => hooks.onBatch?.(b.loss),
    });
    const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
    const tenth = Math.max(1, Math.floor(outcome.losses.length / 10));
    return {
      status: 'trained',
      key: outcome.key,
      path: outcome.entry.path,
      sha256: outcome.entry.contentHash,
      pairs: pairs.length,
      trainedPairs: outcome.questionIds.length,
      droppedPairs: outcome.dropped,
      lossFirstTenth: mean(outcome.losses.slice(0, tenth)),
      lossLastTenth: mean(outcome.losses.slice(-tenth)),
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    };
  });
}

/** The stored warm-up when it was trained on these questions with these settings and verifies. */
function storedSameWarmup(ctx: EncodeContext, pairs: WarmupPair[], training: WarmupAdapterOptions['training']) {
  const key = { ...ctx.scope, id: WARMUP_ADAPTER_ID };
  const entry = ctx.store.get(key);
  const c = entry?.trainingConfig;
  if (!entry || c?.kind !== 'warmup') return undefined;
  // Pairs over maxTokens are not in questionIds: such a run never matches and trains again.
  const ids = Array.isArray(c.questionIds) ? c.questionIds.join('\u0000') : '';
  const same =
    ids === pairs.map((p) => p.id).join('\u0000') &&
    c.seed === training.seed &&
    c.batchSize === training.batchSize &&
    c.gradAccumulation === training.gradAccumulation &&
    c.maxTokens === training.maxTokens;
  return same && ctx.store.verify(key, { modelFingerprint: ctx.modelFingerprint }).ok ? entry : undefined;
}
