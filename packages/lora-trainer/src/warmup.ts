import { type AdapterStore, type DocAdapterKey, describeKey, type ManifestEntry, type ModelDims } from '@rg/adapter-store';
import { type LoraTarget, type ModelWeights, targetParent } from '@rg/engine';
import { type LoraModule, type LoraWeights, parseModuleKey, toLoraWeights } from '@rg/lora';
import type { TrainingExample } from './batching.js';
import type { EncodeContext, WarmupIdentity } from './encode-context.js';
import { chatExample } from './recipe.js';
import { trainAdapter, trainedAdapter } from './trainer.js';

export type { WarmupIdentity } from './encode-context.js';

/**
 * Store id of the warm-up adapter (PRAG's warmup_lora.py): one format adapter trained on the task's own training
 * questions and answers, which every document adapter then sits on top of. Like DAPT's `_dapt` it shares the store
 * scope with the documents' adapters, so no document may take this id (reservedAdapterId).
 */
export const WARMUP_ADAPTER_ID = '_warmup';

/** One question -> answer pair of the task's training data, in the prompt wording inference uses. */
export interface WarmupPair {
  /** The question's id in its dataset: recorded, so a later evaluation can prove it never saw these questions. */
  id: string;
  /** The user turn as the answerer sends it for the closed-book method (instruction, then "Question: ..."). */
  prompt: string;
  /** The answer as the model should reply it (the gold label, or the first accepted answer). */
  answer: string;
}

export interface WarmupOptions {
  /** Where the pairs come from, recorded with the adapter (`dataset`, `split`: never a test split). */
  source: { dataset: string; split: string };
  batchSize?: number;
  gradAccumulation?: number;
  /** Shuffles the pairs each epoch. */
  seed?: number;
  /** Pairs longer than this many tokens are left out (and counted). */
  maxTokens?: number;
  onBatch?: (info: { loss: number; tokens: number }) => void;
}

export interface WarmupOutcome {
  key: DocAdapterKey;
  entry: ManifestEntry;
  /** The ids of the pairs trained on, in the order given. */
  questionIds: string[];
  /** Pairs left out for exceeding maxTokens. */
  dropped: number;
  losses: number[];
  tokens: number;
  ms: number;
}

/** A stored warm-up adapter, ready to stack: its identity and its weights in the engine's form (scale folded into B). */
export interface WarmupAdapter {
  identity: WarmupIdentity;
  weights: LoraWeights;
  /** What it was trained on (its trainingConfig): dataset, split and question ids. */
  trainedOn: { dataset: string; split: string; questionIds: string[] };
}

/**
 * Trains the warm-up adapter on question -> answer pairs (loss on the answer turn only: it teaches the answer format,
 * not the questions' wording) and stores it under the context's scope with id WARMUP_ADAPTER_ID and
 * `kind: 'warmup'`, the source dataset and split and the ids of the questions in its trainingConfig. lr and epochs
 * are the scope's (the store key's). It starts from the shared base_weight, as document adapters do. A context that
 * already stacks a warm-up is refused: a warm-up sits on the base model alone.
 */
export async function trainWarmup(pairs: readonly WarmupPair[], ctx: EncodeContext, options: WarmupOptions): Promise<WarmupOutcome> {
  if (ctx.warmup)
    throw new Error(`trainWarmup: the training run already stacks the warm-up ${describeKey(ctx.warmup.key)}: open it without one`);
  if (options.source.split === 'test' || options.source.split === 'all')
    throw new Error(`trainWarmup: source.split "${options.source.split}" holds test questions: expected a training or dev split`);
  const seen = new Set<string>();
  for (const p of pairs) {
    if (seen.has(p.id)) throw new Error(`trainWarmup: question id "${p.id}" appears twice: expected each question once`);
    seen.add(p.id);
  }
  const t0 = performance.now();
  const examples: TrainingExample[] = [];
  const questionIds: string[] = [];
  let dropped = 0;
  for (const pair of pairs) {
    const example = chatExample(ctx.encoder, pair.prompt, pair.answer, pair.id, 'answer');
    if (options.maxTokens !== undefined && example.inputIds.length > options.maxTokens) dropped++;
    else {
      examples.push(example);
      questionIds.push(pair.id);
    }
  }
  if (examples.length === 0)
    throw new Error(`trainWarmup: no pair to train on (${pairs.length} given, ${dropped} over ${options.maxTokens} tokens)`);
  const batchSize = options.batchSize ?? 1;
  const result = await trainAdapter(ctx.session, ctx.base.modules, examples, {
    mode: 'lora',
    scale: ctx.base.config.alpha / ctx.base.config.rank,
    lr: ctx.scope.lr,
    epochs: ctx.scope.epochs,
    batchSize,
    gradAccumulation: options.gradAccumulation,
    seed: options.seed,
    onBatch: options.onBatch && ((b) => options.onBatch?.({ loss: b.loss, tokens: b.tokens })),
  });
  const trained = trainedAdapter(ctx.base, result);
  const key: DocAdapterKey = { ...ctx.scope, id: WARMUP_ADAPTER_ID };
  const ms = performance.now() - t0;
  const entry = ctx.store.put(key, trained, {
    modelFingerprint: ctx.modelFingerprint,
    mode: 'trained',
    trainingConfig: {
      kind: 'warmup',
      dataset: options.source.dataset,
      split: options.source.split,
      questionIds,
      pairs: pairs.length,
      droppedPairs: dropped,
      lr: ctx.scope.lr,
      epochs: ctx.scope.epochs,
      batchSize,
      gradAccumulation: options.gradAccumulation ?? 1,
      seed: options.seed ?? 0,
      maxTokens: options.maxTokens ?? null,
      loss: 'answer',
      trainSeconds: Math.round(ms) / 1000,
      losses: result.losses,
    },
  });
  return { key, entry, questionIds, dropped, losses: result.losses, tokens: result.tokens, ms };
}

/** No warm-up adapter where one was asked for. */
export class WarmupNotFoundError extends Error {
  override name = 'WarmupNotFoundError';
}

/**
 * Document adapters and the warm-up asked for disagree: an adapter trained on top of one warm-up is applied over
 * another one, or over none (and the other way round: a warm-up asked for where the adapters record another).
 */
export class WarmupMismatchError extends Error {
  override name = 'WarmupMismatchError';
}

/**
 * The one warm-up adapter of `model` and `dataset` in the store (any rank, alpha, lr, epochs: a warm-up is trained
 * with its own). With several, those of `prefer`'s rank and alpha are taken; still several is an error listing them.
 */
export function findWarmup(
  store: AdapterStore,
  where: { model: string; dataset: string },
  prefer: { rank?: number; alpha?: number } = {},
): ManifestEntry {
  let found = store.list({ model: where.model, dataset: where.dataset, id: WARMUP_ADAPTER_ID });
  if (found.length === 0)
    throw new WarmupNotFoundError(
      `no warm-up adapter (id ${WARMUP_ADAPTER_ID}) in ${store.root} for model ${where.model}, dataset ${where.dataset}: train one with rg adapter warmup`,
    );
  if (found.length > 1) {
    const same = found.filter((e) => e.key.rank === prefer.rank && e.key.alpha === prefer.alpha);
    if (same.length > 0) found = same;
  }
  if (found.length > 1)
    throw new WarmupNotFoundError(
      `${found.length} warm-up adapters in ${store.root} for model ${where.model}, dataset ${where.dataset} (${found.map((e) => describeKey(e.key)).join('; ')}): expected one; delete the others or keep them in another store`,
    );
  return found[0];
}

/**
 * Loads a stored warm-up adapter (verified against the model's fingerprint and dimensions when given). An entry
 * without `kind: 'warmup'` in its trainingConfig (a document that took the id before it was reserved) is refused.
 */
export function loadWarmup(
  store: AdapterStore,
  entry: ManifestEntry,
  options: { modelFingerprint?: string; model?: ModelDims } = {},
): WarmupAdapter {
  const config = entry.trainingConfig;
  if (config.kind !== 'warmup')
    throw new WarmupNotFoundError(`${entry.relPath} in ${store.root} is not a warm-up adapter: its trainingConfig has no kind "warmup"`);
  const adapter = store.load(entry.key, options);
  return {
    identity: { key: entry.key as DocAdapterKey, sha256: entry.contentHash },
    weights: toLoraWeights(adapter),
    trainedOn: {
      dataset: String(config.dataset),
      split: String(config.split),
      questionIds: Array.isArray(config.questionIds) ? config.questionIds.map(String) : [],
    },
  };
}

/**
 * The request's adapters with the warm-up stacked under them at weight 1: concatenated along the rank axis, so the
 * delta is the sum of both (PEFT "cat"). A module only one side has gets zero rows for the other, so every module of
 * the result has the same rank. No request adapters: the warm-up alone.
 */
export function stackWarmup(adapters: LoraWeights | null, warmup: LoraWeights): LoraWeights {
  if (!adapters || adapters.rank === 0) return warmup;
  const rank = adapters.rank + warmup.rank;
  const keys = new Set([...adapters.modules.keys(), ...warmup.modules.keys()]);
  const modules = new Map<string, LoraModule>();
  for (const key of keys) {
    const top = adapters.modules.get(key);
    const under = warmup.modules.get(key);
    const { inFeatures, outFeatures } = (top ?? under) as LoraModule;
    if (top && under && (top.inFeatures !== under.inFeatures || top.outFeatures !== under.outFeatures))
      throw new Error(
        `stackWarmup: module ${key} is [${top.inFeatures} -> ${top.outFeatures}] in the adapters, [${under.inFeatures} -> ${under.outFeatures}] in the warm-up`,
      );
    const a = new Float32Array(rank * inFeatures);
    const b = new Float32Array(outFeatures * rank);
    const parts: Array<[LoraModule | undefined, number, number]> = [
      [top, 0, adapters.rank],
      [under, adapters.rank, warmup.rank],
    ];
    for (const [m, offset, r] of parts) {
      if (!m) continue;
      if (m.rank !== r) throw new Error(`stackWarmup: module ${key} has rank ${m.rank}, its set ${r}`);
      a.set(m.a, offset * inFeatures);
      for (let o = 0; o < outFeatures; o++) b.set(m.b.subarray(o * r, (o + 1) * r), o * rank + offset);
    }
    modules.set(key, { rank, inFeatures, outFeatures, a, b });
  }
  return { rank, targets: [...new Set([...adapters.targets, ...warmup.targets])].sort(), modules };
}

/**
 * The base weights with a frozen adapter's delta (B·A, scale folded into B) added to its target projections: what
 * a training session is created with to train document adapters on top of the warm-up. The forward then sees base +
 * warm-up + the adapter being trained, the warm-up gets no gradient input at all, and the tensors it does not touch
 * are shared with `weights`, not copied.
 */
export function mergeIntoWeights(weights: ModelWeights, lora: LoraWeights): ModelWeights {
  const merged = new Map(weights);
  for (const [key, m] of lora.modules) {
    const { layer, target } = parseModuleKey(key);
    const name = `model.layers.${layer}.${targetParent(target as LoraTarget)}.${target}.weight`;
    const w = weights.get(name);
    if (!w) throw new Error(`mergeIntoWeights: the model has no weight ${name} for adapter module ${key}`);
    if (w.dims[0] !== m.outFeatures || w.dims[1] !== m.inFeatures)
      throw new Error(
        `mergeIntoWeights: ${name} is [${w.dims.join(', ')}], the adapter's module ${key} [${m.outFeatures}, ${m.inFeatures}]`,
      );
    const data = Float32Array.from(w.data);
    const row = new Float64Array(m.inFeatures);
    for (let o = 0; o < m.outFeatures; o++) {
      row.fill(0);
      for (let r = 0; r < m.rank; r++) {
        const bor = m.b[o * m.rank + r];
        if (bor === 0) continue;
        const aRow = r * m.inFeatures;
        for (let i = 0; i < m.inFeatures; i++) row[i] += bor * m.a[aRow + i];
      }
      const at = o * m.inFeatures;
      for (let i = 0; i < m.inFeatures; i++) data[at + i] += row[i];
    }
    merged.set(name, { dims: [...w.dims], data });
  }
  return merged;
}

/** The warm-up an adapter was trained on top of, from its trainingConfig (null: trained on the base model alone). */
export function storedWarmup(trainingConfig: Record<string, unknown>): WarmupIdentity | null {
  const w = trainingConfig.warmup as WarmupIdentity | undefined;
  return w && typeof w.sha256 === 'string' ? { key: w.key, sha256: w.sha256 } : null;
}

/**
 * Refuses adapters whose recorded warm-up is not `warmup`: trained on top of another warm-up (another sha256), or on
 * top of one when none is applied. Adapters trained on the base model alone may be applied with a warm-up under them
 * (the format and knowledge effects measured apart); returns how many of those there are.
 */
export function checkWarmupOfAdapters(entries: readonly ManifestEntry[], warmup: WarmupIdentity | null): { withoutWarmup: number } {
  let withoutWarmup = 0;
  for (const entry of entries) {
    if ('id' in entry.key && entry.key.id === WARMUP_ADAPTER_ID) continue;
    const was = storedWarmup(entry.trainingConfig);
    if (!was) {
      withoutWarmup++;
      continue;
    }
    if (!warmup)
      throw new WarmupMismatchError(
        `adapter ${describeKey(entry.key)} was trained on top of the warm-up ${describeKey(was.key)} (sha256 ${was.sha256}): apply it with that warm-up (--warmup)`,
      );
    if (was.sha256 !== warmup.sha256)
      throw new WarmupMismatchError(
        `adapter ${describeKey(entry.key)} was trained on top of the warm-up with sha256 ${was.sha256}, the warm-up applied now (${describeKey(warmup.key)}) has sha256 ${warmup.sha256}: encode the documents again on top of this warm-up, or apply the one they were trained with`,
      );
  }
  return { withoutWarmup };
}
