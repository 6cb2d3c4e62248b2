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
}

export interface Prediction {
  id: string;
  question: string;
  retrievedIds: string[];
  /** Adapters actually applied (documents or clusters); ids whose adapter is not stored are in `missingAdapters`. */
  adapters: string[];
  missingAdapters: string[];
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
  const retrievedIds = usesRetrieval ? (await deps.retriever!.search(example.question, { k: topk })).map((h) => h.id) : [];

  let passages: CorpusDocument[] | undefined;
  if (method === 'icl' || method === 'combine') {
    passages = [];
    for (const id of retrievedIds) {
      const doc = await deps.documents!.get(id);
      if (doc) passages.push(doc);
    }
  }

  let adapterIds: string[] = [];
  let source: AdapterSource<E> | undefined = deps.adapters;
  if (method === 'cat_all_one' || method === 'combine') adapterIds = retrievedIds;
  else if (method === 'oracle') {
    if (!example.goldDocIds || example.goldDocIds.length === 0) throw new Error(`oracle: question ${example.id} names no gold documents`);
    adapterIds = example.goldDocIds;
  } else if (method === 'cluster') {
    adapterIds = await deps.clusters!.router.route(example.question, topk);
    source = deps.clusters!.adapters;
  }
  const applied: string[] = [];
  const missing: string[] = [];
  const loaded: E[] = [];
  // The k adapters are read concurrently (the store reads files through the thread pool).
  const fetched = await Promise.all(adapterIds.map((id) => source!.load(id)));
  for (const [i, id] of adapterIds.entries()) {
    const lora = fetched[i];
    if (lora) {
      applied.push(id);
      loaded.push(lora);
    } else missing.push(id);
  }
  let adapters: LoraWeights | null = null;
  try {
    if (loaded.length > 0) adapters = deps.compose!(loaded);
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
