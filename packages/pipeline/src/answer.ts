import type { Answer, Method } from '@rg/inference';
import { RequestError } from './errors.js';
import { COLLECTION_METHODS } from './settings.js';
import type { AnswerRequest, AnswerResult } from './types.js';

/** Refuses, naming the field, what a collection cannot answer. */
export function validateRequest(request: AnswerRequest, method: Method): void {
  if (!(COLLECTION_METHODS as readonly string[]).includes(method))
    throw new RequestError(
      'answer',
      'method',
      `"${method}" is not served by a collection (expected one of ${COLLECTION_METHODS.join(', ')})`,
    );
  if (typeof request.question !== 'string') throw new RequestError('answer', 'question', 'expected a string');
  if (request.adapters && method !== 'cat_all_one' && method !== 'combine')
    throw new RequestError('answer', 'adapters', `method ${method} applies no adapters (explicit adapters need cat_all_one or combine)`);
  for (const [i, a] of (request.adapters ?? []).entries()) {
    if (typeof a.id !== 'string' || (a.weight !== undefined && !Number.isFinite(a.weight)))
      throw new RequestError('answer', `adapters[${i}]`, 'expected { id: string, weight?: finite number }');
  }
  if (request.raw && request.messages) throw new RequestError('answer', 'raw', 'a raw prompt takes no messages');
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** The answerer's answer as the collection reports it. */
export function toAnswerResult(method: Method, answer: Answer): AnswerResult {
  const completion = answer.completion;
  const timings = answer.timings;
  if (!completion || !timings) throw new Error('answer: the runtime model gave no completion (it needs complete())');
  return {
    text: completion.text,
    finishReason: completion.finishReason,
    promptTokens: completion.promptTokens,
    completionTokens: completion.completionTokens,
    method,
    documents: answer.retrieved.map((h) => ({ id: h.id, score: h.score })),
    adapters: answer.adapters.map((id, i) => ({ id, weight: answer.adapterWeights?.[i] ?? 1 })),
    missingAdapters: answer.missingAdapters,
    timings: {
      retrieve_ms: round(timings.retrieveMs),
      fetch_ms: round(timings.fetchMs),
      compose_ms: round(timings.composeMs),
      prefill_ms: round(completion.prefillMs),
      decode_ms: round(completion.decodeMs),
    },
  };
}
