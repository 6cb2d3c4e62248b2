import type { AdapterStore, BaseWeightKey } from '@rg/adapter-store';
import {
  type LoadedModel,
  type LoraTarget,
  type ModelConfig,
  modelFingerprint,
  modelKeyName,
  OrtCausalLM,
  TrainingSession,
} from '@rg/engine';
import type { LoraAdapter } from '@rg/lora';
import type { EncodeContext } from './encode.js';
import { initAdapter } from './init.js';
import { mergeIntoWeights, type WarmupAdapter } from './warmup.js';

/** What the shared base_weight is filed under and, when none is stored yet, initialised with. */
export interface BaseWeightSpec {
  /** The store's model segment (`modelKeyName`). */
  modelName: string;
  /** `modelFingerprint`: a stored base_weight of another model under the same name is refused. */
  fingerprint: string;
  rank: number;
  alpha: number;
  targets: readonly LoraTarget[];
  seed: number;
}

/** The stored base_weight targets other modules than the run asked for: every adapter starts from it, so they must agree. */
export class BaseWeightMismatchError extends Error {
  constructor(
    readonly requested: readonly string[],
    readonly stored: readonly string[],
  ) {
    super(`targets ${requested.join(',')}: the stored base_weight targets ${stored.join(',')}`);
    this.name = 'BaseWeightMismatchError';
  }
}

/** The model cannot be trained with the recipe: it needs the model's chat template. */
export class NoChatTemplateError extends Error {
  constructor(readonly modelPath: string) {
    super(`${modelPath}: the model has no chat template, which the training recipe needs`);
    this.name = 'NoChatTemplateError';
  }
}

/** The store key of the base_weight a spec describes: one per model, rank and alpha. */
const baseWeightKey = (spec: BaseWeightSpec): BaseWeightKey => ({ model: spec.modelName, rank: spec.rank, alpha: spec.alpha });

/**
 * The shared initial adapter (base_weight) every document's or cluster's training starts from: loaded from the store
 * when present (its targets must match, else BaseWeightMismatchError), else initialised like PEFT, stored, and
 * announced through `onInit`.
 */
export function loadOrInitBaseWeight(
  store: AdapterStore,
  config: ModelConfig,
  spec: BaseWeightSpec,
  onInit?: (key: BaseWeightKey) => void,
): LoraAdapter {
  const baseKey = baseWeightKey(spec);
  if (store.get(baseKey)) {
    const base = store.load(baseKey, { modelFingerprint: spec.fingerprint });
    const stored = [...base.config.targetModules].sort();
    if (stored.join(',') !== [...spec.targets].sort().join(',')) throw new BaseWeightMismatchError(spec.targets, stored);
    return base;
  }
  const { adapter } = initBaseWeight(store, config, spec);
  onInit?.(baseKey);
  return adapter;
}

/**
 * A new base_weight, initialised like PEFT (A Kaiming-uniform from `seed`, B = 0), put into the store (replacing one
 * of the same model, rank and alpha): what `rg adapter init` writes, and loadOrInitBaseWeight when none is stored.
 */
export function initBaseWeight(
  store: AdapterStore,
  config: ModelConfig,
  spec: BaseWeightSpec,
): { adapter: LoraAdapter; entry: ReturnType<AdapterStore['put']> } {
  const adapter = initAdapter(config, {
    rank: spec.rank,
    alpha: spec.alpha,
    targets: spec.targets,
    seed: spec.seed,
    baseModel: spec.modelName,
  });
  const entry = store.put(baseWeightKey(spec), adapter, {
    modelFingerprint: spec.fingerprint,
    mode: 'trained',
    trainingConfig: { init: 'peft-kaiming-uniform', seed: spec.seed, targets: [...spec.targets] },
  });
  return { adapter, entry };
}

export interface TrainingRunOptions {
  rank: number;
  alpha: number;
  targets: readonly LoraTarget[];
  /** Seed of the base_weight's init when none is stored. */
  seed: number;
  /** The dataset segment of the adapters' store key. */
  dataset: string;
  /** Training hyperparameters that are part of the store key. */
  lr: number;
  epochs: number;
  /** onnxruntime intra-op threads of the training session. */
  threads?: number;
  /** A session that trains several adapters per pass, for encodeDocumentsMany (and only for it). */
  batchedAdapters?: boolean;
  /**
   * A frozen warm-up adapter (loadWarmup) every adapter of the run is trained on top of: merged into the session's
   * base weights, so it is in every forward and gets no update; recorded with each adapter (EncodeContext.warmup).
   */
  warmup?: WarmupAdapter;
  /**
   * The run distils (recipe objective distill / both): the training session gets soft targets, and the model (with the
   * warm-up, if any: the teacher is what the adapter sits on) is loaded on the inference graph as the teacher.
   */
  distill?: boolean;
  /**
   * Gradient checkpointing in the training session (the engine's TrainingSessionOptions.checkpoint): each layer's
   * activations recomputed in the backward pass, for long examples on little memory; same gradients, slower steps.
   */
  checkpoint?: boolean;
  /** No base_weight was stored: one was initialised with `seed` and stored under this key. */
  onInitBaseWeight?: (key: BaseWeightKey) => void;
}

export interface TrainingRun {
  /** What encodeDocuments, encodeGroups and encodeDapt take. */
  context: EncodeContext;
  /** Releases the training session (the store stays open: it is the caller's). */
  close(): Promise<void>;
}

/**
 * What every encoding run does before its loop: the model's identity in the store (`modelKeyName`,
 * `modelFingerprint`), the base_weight (loadOrInitBaseWeight), one training session reused for every adapter, and
 * the scope the adapters are stored under.
 */
export async function openTrainingRun(model: LoadedModel, store: AdapterStore, options: TrainingRunOptions): Promise<TrainingRun> {
  const modelName = modelKeyName(model.source);
  const fingerprint = modelFingerprint(model.config, model.source);
  const base = loadOrInitBaseWeight(
    store,
    model.config,
    { modelName, fingerprint, rank: options.rank, alpha: options.alpha, targets: options.targets, seed: options.seed },
    options.onInitBaseWeight,
  );
  if (!model.tokenizer.chatTemplate) throw new NoChatTemplateError(model.source.path);
  const weights = options.warmup ? mergeIntoWeights(model.weights, options.warmup.weights) : model.weights;
  const session = await TrainingSession.create(model.config, weights, {
    targets: options.targets,
    threads: options.threads,
    batchedAdapters: options.batchedAdapters,
    distill: options.distill,
    checkpoint: options.checkpoint,
  });
  const teacher = options.distill ? await OrtCausalLM.load(model.config, weights, { threads: options.threads }) : undefined;
  const scope = {
    model: modelName,
    rank: options.rank,
    alpha: options.alpha,
    dataset: options.dataset,
    lr: options.lr,
    epochs: options.epochs,
  };
  return {
    context: {
      session,
      encoder: model.tokenizer,
      store,
      base,
      scope,
      modelFingerprint: fingerprint,
      ...(options.warmup ? { warmup: options.warmup.identity } : {}),
      ...(teacher ? { teacher } : {}),
    },
    close: async () => {
      await session.release();
      await teacher?.dispose();
    },
  };
}
