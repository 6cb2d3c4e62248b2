import type { LoraWeights } from '@rg/lora';
import type { CorpusDocument, QaExample } from './datasets/types.js';
import {
  type AnswerOptions,
  checkDeps,
  compositionWeights,
  type Method,
  type MethodDeps,
  RETRIEVED_ADAPTER_METHODS,
  scaledWeights,
} from './methods.js';
import type { AdapterSource, ChatMessage, Completion, CompletionRequest, RetrievedHit } from './model.js';
import { buildMessages, passagesInstruction } from './prompts.js';
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
  /** The generation itself (untrimmed text, finish reason, token counts, prefill and decode times), when the model has `complete`. */
  completion?: Completion;
  /** Milliseconds spent before generation (when the model has `complete`). */
  timings?: AnswerStepTimings;
}

export interface AnswerStepTimings {
  /** Search and the passages' text. */
  retrieveMs: number;
  /** Loading the adapters. */
  fetchMs: number;
  /** Composing them and preparing them as the model's inputs. */
  composeMs: number;
}

/** How one request differs from a dataset question (an app's chat request); every field is optional. */
export interface AnswerCall {
  /**
   * The whole conversation instead of one question; the question is still what is retrieved for. Passages
   * (icl, combine) go into its system turn, worded as in a single question's prompt.
   */
  messages?: ChatMessage[];
  /** The question is a raw prompt continued without the chat template (passages, if any, put before it). */
  raw?: boolean;
  /** These adapters with these weights (default 1) instead of the retrieved ones (methods that compose adapters only). */
  adapters?: Array<{ id: string; weight?: number }>;
  maxNewTokens?: number;
  temperature?: number;
  seed?: number;
  onDelta?: CompletionRequest['onDelta'];
  signal?: AbortSignal;
}

export interface Answerer {
  answer(question: string | Question, call?: AnswerCall): Promise<Answer>;
}

/** The methods whose adapters an explicit list may replace. */
const EXPLICIT_ADAPTER_METHODS: readonly Method[] = ['cat_all_one', 'combine', 'oracle'];

/**
 * Answers questions with one method: retrieve (cat_all_one, icl, combine), put the passages in the prompt (icl,
 * combine), fetch and compose the adapters (cat_all_one, combine, oracle, cluster, dapt) for this one request, then
 * generate or choose among the question's choices. Throws at once, naming them, when `deps` lacks parts the method needs.
 */
export function createAnswerer<E>(deps: MethodDeps<E>, options: AnswerOptions): Answerer {
  checkDeps(options.method, deps);
  return {
    answer: (question, call = {}) => answer(typeof question === 'string' ? { question } : question, deps, options, call),
  };
}

async function answer<E>(q: Question, deps: MethodDeps<E>, options: AnswerOptions, call: AnswerCall): Promise<Answer> {
  const { method, topk } = options;
  const explicit = call.adapters;
  if (explicit && !EXPLICIT_ADAPTER_METHODS.includes(method))
    throw new Error(`method ${method} applies no per-document adapters: explicit adapters need ${EXPLICIT_ADAPTER_METHODS.join(', ')}`);
  const t0 = performance.now();
  // With explicit adapters, cat_all_one has nothing left to retrieve; combine still retrieves its passages.
  const usesRetrieval = (method === 'cat_all_one' && !explicit) || method === 'icl' || method === 'combine';
  const retrieved = usesRetrieval ? await deps.retriever!.search(q.question, { k: topk }) : [];

  const passages: CorpusDocument[] = [];
  if (method === 'icl' || method === 'combine') {
    for (const { id } of retrieved) {
      const doc = await deps.documents!.get(id);
      if (doc) passages.push(doc);
    }
  }
  const t1 = performance.now();

  let adapterIds: string[] = [];
  // Parallel to adapterIds where they come from retrieval (compose score weights by them).
  let adapterScores: number[] | undefined;
  let source: AdapterSource<E> | undefined = deps.adapters;
  if (explicit) {
    adapterIds = explicit.map((a) => a.id);
  } else if (RETRIEVED_ADAPTER_METHODS.includes(method)) {
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
  const appliedExplicit: number[] = [];
  const missing: string[] = [];
  const loaded: E[] = [];
  // The k adapters are read concurrently (the store reads files through the thread pool).
  const fetched = await Promise.all(adapterIds.map((id) => source!.load(id)));
  for (const [i, id] of adapterIds.entries()) {
    const lora = fetched[i];
    if (lora) {
      applied.push(id);
      if (adapterScores) appliedScores.push(adapterScores[i]);
      if (explicit) appliedExplicit.push(explicit[i].weight ?? 1);
      loaded.push(lora);
    } else missing.push(id);
  }
  const t2 = performance.now();
  let adapters: LoraWeights | null = null;
  let weights: number[] | undefined;
  try {
    // Weighted over the adapters applied: a missing one takes no share. Explicit weights are the caller's, as given.
    weights = explicit
      ? appliedExplicit.every((w) => w === 1)
        ? undefined
        : appliedExplicit
      : scaledWeights(
          compositionWeights(options.compose ?? 'cat', loaded.length, adapterScores && appliedScores),
          loaded.length,
          options.adapterScale,
        );
    if (loaded.length > 0) adapters = weights ? deps.compose!(loaded, weights) : deps.compose!(loaded);
  } finally {
    source?.release?.(loaded); // composed (copied): the source may reuse their memory
  }
  const composed = adapters;
  try {
    return await respond(q, deps, options, call, {
      adapters,
      retrieved,
      passages,
      applied,
      missing,
      weights,
      t: [t0, t1, t2],
    });
  } finally {
    if (composed) deps.releaseComposed?.(composed);
  }
}

/** The prompt, the generation (or label choice) and the answer, once retrieval and composition are done. */
async function respond<E>(
  q: Question,
  deps: MethodDeps<E>,
  options: AnswerOptions,
  call: AnswerCall,
  found: {
    adapters: LoraWeights | null;
    retrieved: RetrievedHit[];
    passages: CorpusDocument[];
    applied: string[];
    missing: string[];
    weights: number[] | undefined;
    t: [number, number, number];
  },
): Promise<Answer> {
  const { method } = options;
  const { retrieved, passages, applied, missing, weights } = found;
  const [t0, t1, t2] = found.t;
  let adapters = found.adapters;
  if (method === 'dapt') {
    adapters = deps.dapt!;
    applied.push('dapt');
  }
  const t3 = performance.now();

  const messages = call.messages
    ? withPassages(call.messages, passages)
    : buildMessages(q.question, { instruction: options.instruction, passages });
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
  const maxNewTokens = call.maxNewTokens ?? options.maxNewTokens;
  if (!deps.model.complete) {
    const unsupported = (['messages', 'raw', 'temperature', 'onDelta', 'signal'] as const).filter((k) => call[k] !== undefined);
    if (unsupported.length > 0) throw new Error(`the answer model has no complete(): cannot take ${unsupported.join(', ')}`);
    return { text: (await deps.model.generate(messages, { adapters, maxNewTokens })).trim(), ...used };
  }
  const completion = await deps.model.complete({
    prompt: call.raw ? { raw: rawPrompt(q.question, passages) } : { messages },
    adapters,
    maxNewTokens,
    temperature: call.temperature,
    seed: call.seed,
    onDelta: call.onDelta,
    signal: call.signal,
  });
  return {
    text: completion.text.trim(),
    ...used,
    completion,
    timings: { retrieveMs: t1 - t0, fetchMs: t2 - t1, composeMs: t3 - t2 + completion.adaptersMs },
  };
}

/** A conversation with the passages in its system turn (after the system text it already has, if any). */
function withPassages(messages: ChatMessage[], passages: CorpusDocument[]): ChatMessage[] {
  if (passages.length === 0) return messages;
  const block = passagesInstruction(passages);
  if (messages[0]?.role === 'system') return [{ role: 'system', content: `${messages[0].content}\n\n${block}` }, ...messages.slice(1)];
  return [{ role: 'system', content: block }, ...messages];
}

/** A raw prompt: the passages' block, if any, then the text as given. */
function rawPrompt(text: string, passages: CorpusDocument[]): string {
  return passages.length === 0 ? text : `${passagesInstruction(passages)}\n\n${text}`;
}
