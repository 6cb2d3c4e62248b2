import { type BatchedCausalLM, type CausalLM, DecodeBatcher } from '@rg/engine';
import type { GenerateFn } from '@rg/inference';

/**
 * `--batch` when not given. Measured on 2 cores with SmolLM2-135M (`rg bench serve --parts batching`, 16 clients with
 * their own adapters, 32 tokens each): 23, 35, 48, 59 and 66 tokens/s at --batch 1, 2, 4, 8 and 16. Past 8 the gain
 * is small (+11%) while every row waits for the longest. A request alone decoded about 14% slower in the batcher (the
 * per-row graph at one row) than with the engine's generate at the time; the batcher now steps a lone row with the
 * single-row forward that generate runs (not re-measured since).
 */
export const DEFAULT_BATCH = 8;

/**
 * A GenerateFn (for `loadRuntime`'s `generate`) that decodes concurrent requests together, each row with its own
 * adapters: one DecodeBatcher over the runtime's model, made on the first request.
 *
 * Concurrent `Collection.answer` calls on one runtime are safe, which is what lets the generation queue run `maxBatch`
 * of them at once: each request reads its adapters through its own store leases (pinned until composed) and composes
 * them into fresh arrays; `prepareAdapters` stores them under a new handle of the model's host, released after that
 * request; every forward returns a new KV cache handle owned by that request (or by the batcher, which releases the
 * caches of the rows that leave); stored tensors are never written after they are stored, and ORT's Run may be called
 * concurrently on one session. Nothing mutable is shared between requests but the batcher's rows, which only its own loop touches.
 */
export function batchedGenerate(maxBatch: number): GenerateFn {
  let batcher: DecodeBatcher | undefined;
  let model: CausalLM | undefined;
  return (lm, promptIds, options) => {
    if (!isBatched(lm)) throw new Error('batchedGenerate: the model has no batched forward (forwardBatch)');
    if (model && model !== lm) throw new Error('batchedGenerate: one batcher serves one model');
    model = lm;
    batcher ??= new DecodeBatcher(lm, { maxBatch });
    return batcher.generate(promptIds, options);
  };
}

function isBatched(lm: CausalLM): lm is BatchedCausalLM {
  return typeof (lm as Partial<BatchedCausalLM>).forwardBatch === 'function';
}
