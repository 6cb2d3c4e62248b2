import type { AdapterStore, ManifestEntry } from '@rg/adapter-store';
import type { ModelConfig } from '@rg/engine';
import type { AnswerModel, QaExample } from '@rg/inference';
import type { LoraWeights } from '@rg/lora';
import {
  checkWarmupOfAdapters,
  findWarmup,
  loadWarmup,
  stackWarmup,
  type WarmupAdapter,
  type WarmupIdentity,
  WarmupMismatchError,
  WarmupNotFoundError,
} from '@rg/lora-trainer';
import { InferenceInputError } from './infer-errors.js';

/**
 * The answer model with the warm-up stacked under whatever adapters each request brings (weight 1, concatenated
 * along the rank axis), and alone where a request brings none (wo_param, icl). The answerer is left as it is: every
 * method reaches the model through these three calls.
 */
export function withWarmup(model: AnswerModel, warmup: LoraWeights): AnswerModel {
  const stacked: AnswerModel = {
    generate: (messages, options) => model.generate(messages, { ...options, adapters: stackWarmup(options.adapters, warmup) }),
    continuationLogLikelihoods: (messages, continuations, options) =>
      model.continuationLogLikelihoods(messages, continuations, { ...options, adapters: stackWarmup(options.adapters, warmup) }),
  };
  const complete = model.complete?.bind(model);
  if (complete) stacked.complete = (request) => complete({ ...request, adapters: stackWarmup(request.adapters, warmup) });
  return stacked;
}

/** The store's warm-up adapter of the model and dataset segment (rank and alpha preferred); not found: an InferenceInputError naming the command that makes one. */
export function openWarmup(
  store: AdapterStore,
  where: { model: string; dataset: string; rank: number; alpha: number },
  load: { modelFingerprint: string; model: ModelConfig },
): WarmupAdapter {
  try {
    return loadWarmup(store, findWarmup(store, where, where), load);
  } catch (e) {
    if (e instanceof WarmupNotFoundError)
      throw new InferenceInputError(`--warmup: ${e.message} (rg adapter warmup --dataset ${where.dataset} --store ${store.root} --n N)`);
    throw e;
  }
}

/**
 * Refuses to evaluate questions the warm-up was trained on: the "base + warm-up" row would then measure memorised
 * answers, not the answer format. Only questions of the same dataset can collide (ids are the dataset's own).
 */
export function refuseTrainedQuestions(
  warmup: WarmupAdapter,
  dataset: { name: string; split?: string },
  examples: readonly QaExample[],
): void {
  if (warmup.trainedOn.dataset !== dataset.name) return;
  const trained = new Set(warmup.trainedOn.questionIds);
  const seen = examples.filter((e) => trained.has(e.id)).map((e) => e.id);
  if (seen.length === 0) return;
  throw new InferenceInputError(
    `--warmup: the warm-up adapter was trained on ${seen.length} of the ${examples.length} questions to answer (${dataset.name} ${warmup.trainedOn.split}; first: ${seen.slice(0, 5).join(', ')}): train it without them (rg adapter warmup --exclude-sample N --exclude-seed S, the --sample and --seed of this run) or answer another split`,
  );
}

/**
 * The adapters about to be applied must have been trained on top of the warm-up applied now (or on none, when none is
 * applied): WarmupMismatchError as an InferenceInputError. Returns how many were trained on the base model alone.
 */
export function checkAdaptersWarmup(entries: readonly ManifestEntry[], warmup: WarmupIdentity | null): number {
  try {
    return checkWarmupOfAdapters(entries, warmup).withoutWarmup;
  } catch (e) {
    throw e instanceof WarmupMismatchError ? new InferenceInputError(e.message) : e;
  }
}
