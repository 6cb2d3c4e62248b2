import type { LoraWeights } from '@rg/adapter-store';
import type { CorpusDocument, QaExample } from './datasets/types.js';
import { type AnswerOptions, checkDeps, compositionWeights, type MethodDeps } from './methods.js';
import type { AdapterSource, RetrievedHit } from './model.js';
import { buildMessages } from './prompts.js';
import { chooseLabel } from './scoring.js';

/** A question as the answerer takes it: `choices` to pick among labels, `goldDocIds` for oracle, `id` to name it in errors. */
export type Question = Pick<QaExample, 'question'> & Partial<Pick<QaExample, 'id' | 'choices' | 'goldDocIds'>>;

/** One answer and what went into it. */
export interface Answer {
  /** The reply (greedy generation, trimmed), or the chosen label when the question came with choices. */
  text: string;
  /** The documents retrieved for the question, best first (none for methods without retrieval). */
  retrieved: RetrievedHit[];
  /** The passages put in the prompt (icl, combine). */
  passages: CorpusDocument[];
  /** Adapters applied (documents, clusters, or 'dapt'); ids whose adapter is not stored are in `missingAdapters`. */
  adapters: string[];
  missingAdapters: string[];
  /** The weight of each applied adapter, when composed with mean or score (cat: 1 each, not given). */
  adapterWeights?: number[];
  /** Per-choice log-likelihoods when the answer was chosen among choices. */
  labelLogLikelihoods?: number[];
}

export interface Answerer {
  answer(question: string | Question): Promise<Answer>;
}

/**
 * Answers questions with one method: retrieve (cat_all_one, icl, combine), put the passages in the prompt (icl,
 * combine), fetch and compose the adapters (cat_all_one, combine, oracle, cluster, dapt) for this one request, then
 * generate or choose among the question's choices. Throws at once, naming them, when `deps` lacks parts the method needs.
 */
export function createAnswerer<E>(deps: MethodDeps<E>, options: AnswerOptions): Answerer {
  checkDeps(options.method, deps);
  return { answer: (question) => answer(typeof question === 'string' ? { question } : question, deps, options) };
}

async function answer<E>(q: Question, deps: MethodDeps<E>, options: AnswerOptions): Promise<Answer> {
  const { method, topk } = options;
  const usesRetrieval = method === 'cat_all_one' || method === 'icl' || method === 'combine';
  const retrieved = usesRetrieval ? await deps.retriever!.search(q.question, { k: topk }) : [];

  const passages: CorpusDocument[] = [];
  if (method === 'icl' || method === 'combine') {
    for (const { id } of retrieved) {
      const doc = await deps.documents!.get(id);
      if (doc) passages.push(doc);
    }
  }

  let adapterIds: string[] = [];
  // Parallel to adapterIds where they come from retrieval (compose score weights by them).
  let adapterScores: number[] | undefined;
  let source: AdapterSource<E> | undefined = deps.adapters;
  if (method === 'cat_all_one' || method === 'combine') {
    adapterIds = retrieved.map((h) => h.id);
    adapterScores = retrieved.map((h) => h.score);
  } else if (method === 'oracle') {
    if (!q.goldDocIds || q.goldDocIds.length === 0)
      throw new Error(`oracle: question ${q.id ?? JSON.stringify(q.question)} names no gold documents`);
    adapterIds = q.goldDocIds;
  } else if (method === 'cluster') {
    adapterIds = await deps.clusters!.router.route(q.question, topk);
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

  const messages = buildMessages(q.question, { instruction: options.instruction, passages });
  const used = {
    retrieved,
    passages,
    adapters: applied,
    missingAdapters: missing,
    ...(weights ? { adapterWeights: weights } : {}),
  };
  if (q.choices) {
    const choice = await chooseLabel(deps.model, messages, q.choices, adapters);
    return { text: choice.label, ...used, labelLogLikelihoods: choice.logLikelihoods };
  }
  return { text: (await deps.model.generate(messages, { adapters, maxNewTokens: options.maxNewTokens })).trim(), ...used };
}
