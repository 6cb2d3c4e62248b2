import type { LoraWeights } from '@rg/adapter-store';
import type { CorpusDocument, Dataset, QaExample } from './datasets/types.js';
import { answerInOutput, exactMatch, tokenF1 } from './metrics.js';
import type { AdapterSource, AnswerModel, ClusterRouter, ComposeAdapters, DocumentSource, PassageRetriever } from './model.js';
import { buildMessages } from './prompts.js';
import { chooseLabel } from './scoring.js';

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
}

export interface Prediction {
  id: string;
  question: string;
  retrievedIds: string[];
  /** Adapters actually applied (documents or clusters); ids whose adapter is not stored are in `missingAdapters`. */
  adapters: string[];
  missingAdapters: string[];
  /** The weight of each applied adapter, when composed with mean or score (cat: 1 each, not written). */
  adapterWeights?: number[];
  prediction: string;
  gold: string[];
  /** Per-label log-likelihoods when the answer was chosen among labels. */
  labelLogLikelihoods?: number[];
  /** The dataset's primary metric for this question. */
  score: number;
  em: number;
  f1: number;
  contains: number;
  latencyMs: number;
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

/** Answer one question with one method and score it. */
export async function answerQuestion<E>(
  example: QaExample,
  dataset: Pick<Dataset, 'primaryMetric'>,
  deps: MethodDeps<E>,
  options: AnswerOptions,
): Promise<Prediction> {
  const started = performance.now();
  const { method, topk } = options;
  const usesRetrieval = method === 'cat_all_one' || method === 'icl' || method === 'combine';
  const hits = usesRetrieval ? await deps.retriever!.search(example.question, { k: topk }) : [];
  const retrievedIds = hits.map((h) => h.id);

  let passages: CorpusDocument[] | undefined;
  if (method === 'icl' || method === 'combine') {
    passages = [];
    for (const id of retrievedIds) {
      const doc = await deps.documents!.get(id);
      if (doc) passages.push(doc);
    }
  }

  let adapterIds: string[] = [];
  // Parallel to adapterIds where they come from retrieval (compose score weights by them).
  let adapterScores: number[] | undefined;
  let source: AdapterSource<E> | undefined = deps.adapters;
  if (method === 'cat_all_one' || method === 'combine') {
    adapterIds = retrievedIds;
    adapterScores = hits.map((h) => h.score);
  } else if (method === 'oracle') {
    if (!example.goldDocIds || example.goldDocIds.length === 0) throw new Error(`oracle: question ${example.id} names no gold documents`);
    adapterIds = example.goldDocIds;
  } else if (method === 'cluster') {
    adapterIds = await deps.clusters!.router.route(example.question, topk);
    source = deps.clusters!.adapters;
  }
  const applied: string[] = [];
  const appliedScores: number[] = [];
  const missing: string[] = [];
  const loaded: E[] = [];
  // The k adapters are read concurrently (the store reads files through the thread pool).
  const fetched = await Promise.all(adapterIds.map((id) => source!.load(id)));
  for (const [i, id] of adapterIds.entries()) {
    const lora = fetched[i];
    if (lora) {
      applied.push(id);
      if (adapterScores) appliedScores.push(adapterScores[i]);
      loaded.push(lora);
    } else missing.push(id);
  }
  let adapters: LoraWeights | null = null;
  let weights: number[] | undefined;
  try {
    // Weighted over the adapters applied: a missing one takes no share.
    weights = compositionWeights(options.compose ?? 'cat', loaded.length, adapterScores && appliedScores);
    if (loaded.length > 0) adapters = weights ? deps.compose!(loaded, weights) : deps.compose!(loaded);
  } finally {
    source?.release?.(loaded); // composed (copied): the source may reuse their memory
  }
  if (method === 'dapt') {
    adapters = deps.dapt!;
    applied.push('dapt');
  }

  const messages = buildMessages(example.question, { instruction: options.instruction, passages });
  let prediction: string;
  let labelLogLikelihoods: number[] | undefined;
  if (example.choices) {
    const choice = await chooseLabel(deps.model, messages, example.choices, adapters);
    prediction = choice.label;
    labelLogLikelihoods = choice.logLikelihoods;
  } else {
    prediction = (await deps.model.generate(messages, { adapters, maxNewTokens: options.maxNewTokens })).trim();
  }

  const em = exactMatch(prediction, example.answers);
  const f1 = tokenF1(prediction, example.answers);
  const contains = answerInOutput(prediction, example.answers);
  const correct = example.choices ? (example.answers.includes(prediction) ? 1 : 0) : em;
  const score = { accuracy: correct, em, f1, contains }[dataset.primaryMetric];
  return {
    id: example.id,
    question: example.question,
    retrievedIds,
    adapters: applied,
    missingAdapters: missing,
    ...(weights ? { adapterWeights: weights } : {}),
    prediction,
    gold: example.answers,
    ...(labelLogLikelihoods ? { labelLogLikelihoods } : {}),
    score,
    em,
    f1,
    contains,
    latencyMs: performance.now() - started,
  };
}
