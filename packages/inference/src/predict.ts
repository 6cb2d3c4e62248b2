import { createAnswerer } from './answerer.js';
import type { Dataset, QaExample } from './datasets/types.js';
import type { AnswerOptions, MethodDeps } from './methods.js';
import { answerInOutput, exactMatch, tokenF1 } from './metrics.js';

/** One dataset question answered and scored: a line of predict.json. */
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

/** Answer one dataset question with one method (createAnswerer) and score it against its gold answers. */
export async function answerQuestion<E>(
  example: QaExample,
  dataset: Pick<Dataset, 'primaryMetric'>,
  deps: MethodDeps<E>,
  options: AnswerOptions,
): Promise<Prediction> {
  const started = performance.now();
  const a = await createAnswerer(deps, options).answer(example);
  const em = exactMatch(a.text, example.answers);
  const f1 = tokenF1(a.text, example.answers);
  const contains = answerInOutput(a.text, example.answers);
  const correct = example.choices ? (example.answers.includes(a.text) ? 1 : 0) : em;
  const score = { accuracy: correct, em, f1, contains }[dataset.primaryMetric];
  return {
    id: example.id,
    question: example.question,
    retrievedIds: a.retrieved.map((h) => h.id),
    adapters: a.adapters,
    missingAdapters: a.missingAdapters,
    ...(a.adapterWeights ? { adapterWeights: a.adapterWeights } : {}),
    prediction: a.text,
    gold: example.answers,
    ...(a.labelLogLikelihoods ? { labelLogLikelihoods: a.labelLogLikelihoods } : {}),
    score,
    em,
    f1,
    contains,
    latencyMs: performance.now() - started,
  };
}
