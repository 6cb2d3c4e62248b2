import type { LoraWeights } from '@rg/lora';
import type { AdapterSource, AnswerModel, ClusterRouter, ComposeAdapters, DocumentSource, PassageRetriever } from './model.js';

/**
 * The methods of the paper and its baselines:
 * - wo_param: the base model alone;
 * - cat_all_one: the top-k retrieved documents' adapters concatenated, no passages in the prompt (the method);
 * - icl: the top-k passages in the prompt, no adapters (standard RAG);
 * - combine: both;
 * - cluster: the adapters of the k nearest clusters;
 * - dapt: one adapter trained on the whole corpus;
 * - oracle: the gold documents' adapters (an upper bound where the dataset names gold documents).
 */
export const METHODS = ['wo_param', 'cat_all_one', 'icl', 'combine', 'cluster', 'dapt', 'oracle'] as const;
export type Method = (typeof METHODS)[number];

export function isMethod(value: string): value is Method {
  return (METHODS as readonly string[]).includes(value);
}

/**
 * How the k adapters of a request are weighted before they are concatenated (PEFT's add_weighted_adapter "cat"):
 * - cat: weight 1 each, the sum of their deltas (the method as published);
 * - mean: 1/k each;
 * - score: the retrieval scores normalised to sum 1 (cat_all_one, combine); a method whose adapters come without
 *   retrieval scores (oracle, cluster) gets mean's 1/k.
 */
export const COMPOSE_MODES = ['cat', 'mean', 'score'] as const;
export type ComposeMode = (typeof COMPOSE_MODES)[number];

/** The methods that compose adapters, so the ones `compose` changes. */
export const COMPOSING_METHODS: readonly Method[] = ['cat_all_one', 'combine', 'oracle', 'cluster'];

/** The methods whose adapters are the retrieved documents' (and so come with retrieval scores). */
export const RETRIEVED_ADAPTER_METHODS: readonly Method[] = ['cat_all_one', 'combine'];

/**
 * The compose mode `method` actually uses when asked for `mode`: score falls back to mean where the adapters come
 * without retrieval scores (oracle, cluster), so their answers are filed, and recorded, as mean's.
 */
export function effectiveCompose(method: Method, mode: ComposeMode): ComposeMode {
  return mode === 'score' && !RETRIEVED_ADAPTER_METHODS.includes(method) ? 'mean' : mode;
}

/**
 * Per-adapter weights of a composition of `k` adapters (undefined for cat: composition as it always was).
 * `scores`: the adapters' retrieval scores, in order, where they came from retrieval. Scores must be positive for
 * their share to mean anything (BM25 and RRF scores are; a dense cosine can fall to zero or below).
 */
export function compositionWeights(mode: ComposeMode, k: number, scores?: readonly number[]): number[] | undefined {
  if (mode === 'cat' || k === 0) return undefined;
  if (mode === 'mean' || scores === undefined) return Array.from({ length: k }, () => 1 / k);
  if (scores.length !== k) throw new Error(`compose score: ${scores.length} scores for ${k} adapters`);
  const bad = scores.find((s) => !(Number.isFinite(s) && s > 0));
  if (bad !== undefined) throw new Error(`compose score needs positive retrieval scores, got ${bad}: use compose mean or cat`);
  const sum = scores.reduce((a, b) => a + b, 0);
  return scores.map((s) => s / sum);
}

/** What a method needs; each method checks that its parts are present before the first question. */
export interface MethodDeps<E = unknown> {
  model: AnswerModel;
  retriever?: PassageRetriever;
  documents?: DocumentSource;
  /** Per-document adapters. */
  adapters?: AdapterSource<E>;
  compose?: ComposeAdapters<E>;
  /**
   * Called with each composition once the answer that used it is done (generation finished or failed): a pool
   * (@rg/adapter-store's ComposeBuffers) may then reuse its arrays. Optional.
   */
  releaseComposed?: (composed: LoraWeights) => void;
  clusters?: { router: ClusterRouter; adapters: AdapterSource<E> };
  /** The single continual-pretraining adapter. */
  dapt?: LoraWeights;
}

export interface AnswerOptions {
  method: Method;
  topk: number;
  maxNewTokens: number;
  instruction?: string;
  /** Weighting of the composed adapters (default cat). */
  compose?: ComposeMode;
  /**
   * Every composition weight multiplied by this (default 1): how strongly the composed adapters act. The published
   * PopQA reference sweep found adapters plus passages best well below full strength (RAG + adapter at s = 0.25).
   */
  adapterScale?: number;
}

/** The composition's weights scaled by `scale` (undefined weights are 1 each); unchanged at scale 1. */
export function scaledWeights(weights: number[] | undefined, k: number, scale = 1): number[] | undefined {
  if (scale === 1 || k === 0) return weights;
  if (!(Number.isFinite(scale) && scale > 0)) throw new Error(`adapter scale ${scale}: expected a positive number`);
  return (weights ?? Array.from({ length: k }, () => 1)).map((w) => w * scale);
}

const NEEDS: Record<Method, Array<keyof MethodDeps<unknown>>> = {
  wo_param: [],
  cat_all_one: ['retriever', 'adapters', 'compose'],
  icl: ['retriever', 'documents'],
  combine: ['retriever', 'documents', 'adapters', 'compose'],
  cluster: ['clusters', 'compose'],
  dapt: ['dapt'],
  oracle: ['adapters', 'compose'],
};

/** Throws naming what `method` needs and `deps` lacks. */
export function checkDeps<E>(method: Method, deps: MethodDeps<E>): void {
  const missing = NEEDS[method].filter((k) => deps[k] === undefined);
  if (missing.length > 0) throw new Error(`method ${method} needs ${missing.join(', ')}`);
}
