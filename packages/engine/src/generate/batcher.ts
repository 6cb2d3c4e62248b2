import type { BatchAdapterSet, BatchedCausalLM, BatchKvCache, KvCache } from '../runtime/causal-lm.js';
import { type GenerateOptions, type GenerateResult, SequenceDecoder } from './generate.js';

export interface DecodeBatcherOptions {
  /** Requests decoded together at most (default 8); more wait for a row to free up. */
  maxBatch?: number;
}

export interface BatchGenerateOptions extends GenerateOptions {
  /** Aborting rejects the request with the signal's reason; a decoding request leaves the batch before the next step. */
  signal?: AbortSignal;
}

/** Time spent so far, for metrics and benchmarks. */
export interface DecodeBatcherStats {
  prefills: number;
  prefillMs: number;
  /** Decode steps, and the tokens they produced (the sum of their batch sizes). */
  steps: number;
  decodedTokens: number;
  /** Of `steps`, those run with one row: the single-sequence forward `generate` runs, not the per-row graph. */
  soloSteps: number;
  /** Decode steps plus rebuilding the batch when requests join or leave. */
  decodeMs: number;
}

interface Request {
  promptIds: number[];
  options: BatchGenerateOptions;
  sequence: SequenceDecoder;
  resolve: (result: GenerateResult) => void;
  reject: (error: unknown) => void;
  /** Where the request's KV cache is: its own (just prefilled) or a row of the batch cache. */
  cache: KvCache | { row: number };
  failure?: { error: unknown };
  /** Removes the abort listener once the request is settled. */
  detach: () => void;
}

/**
 * Continuous batching across requests with different adapters: each request is prefilled alone (the very forward
 * `generate` runs), then decodes in one batch with the others, a row each with its own cache length and adapter set
 * (`forwardBatch`). Requests join and leave between decode steps; while only one request decodes, it steps with the
 * single-sequence forward (`generate`'s own). A request's tokens are those `generate` gives for the same prompt and
 * options (the same SequenceDecoder over logits equal to fp32 rounding; bit for bit for a request that was never batched).
 *
 * One loop drives the model, so a prefill pauses the batch's decoding for its duration.
 */
export class DecodeBatcher {
  readonly maxBatch: number;
  private readonly waiting: Request[] = [];
  /** The batch, in the order of its rows; a request just admitted brings its own cache until the next rebuild. */
  private rows: Request[] = [];
  private cache: BatchKvCache | null = null;
  private adapters: BatchAdapterSet | null = null;
  /** The batch cache and adapters match `rows`. */
  private batched = false;
  private running = false;
  private readonly counters: DecodeBatcherStats = { prefills: 0, prefillMs: 0, steps: 0, decodedTokens: 0, soloSteps: 0, decodeMs: 0 };

  constructor(
    private readonly lm: BatchedCausalLM,
    options: DecodeBatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 8;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1)
      throw new Error(`DecodeBatcher: maxBatch ${this.maxBatch} must be a positive integer`);
  }

  /** Requests decoding now. */
  get active(): number {
    return this.rows.length;
  }

  /** Requests waiting for a row. */
  get queued(): number {
    return this.waiting.length;
  }

  get stats(): DecodeBatcherStats {
    return { ...this.counters };
  }

  /** `generate(lm, promptIds, options)` for this request, decoded in a batch with the others. */
  generate(promptIds: number[], options: BatchGenerateOptions = {}): Promise<GenerateResult> {
    return new Promise<GenerateResult>((resolve, reject) => {
      const { signal } = options;
      if (signal?.aborted) return reject(signal.reason);
      const sequence = new SequenceDecoder(this.lm.config.eosTokenIds, options);
      if (sequence.done) return resolve(sequence.result());
      const onAbort = () => {
        // A waiting request leaves at once; a decoding one at the next step boundary (its cache is in use).
        const i = this.waiting.indexOf(request);
        if (i >= 0) {
          this.waiting.splice(i, 1);
          request.detach();
          reject(signal?.reason);
        }
      };
      const request: Request = {
        promptIds,
        options,
        sequence,
        resolve,
        reject,
        cache: { row: -1 },
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(request);
      if (!this.running) {
        this.running = true;
        void this.loop();
      }
    });
  }

  private async loop(): Promise<void> {
    try {
      await this.drain();
    } finally {
      // Cleared in the same tick as the last emptiness check, so a request arriving later starts a new loop.
      this.running = false;
    }
  }

  private async drain(): Promise<void> {
    while (this.rows.length > 0 || this.waiting.length > 0) {
      await this.admit();
      this.settleFinished();
      if (this.rows.length === 0) continue;
      const start = performance.now();
      try {
        if (this.rows.length === 1) await this.stepAlone();
        else {
          if (!this.batched) await this.rebuild();
          await this.step();
        }
      } catch (error) {
        // The batch is lost (a failed run or rebuild): its requests fail, the waiting ones still get their turn.
        for (const r of this.rows) r.failure ??= { error };
        this.settleFinished();
      }
      this.counters.decodeMs += performance.now() - start;
    }
  }

  /** Prefill waiting requests into free rows, one at a time with the single-sequence forward. */
  private async admit(): Promise<void> {
    while (this.rows.length < this.maxBatch && this.waiting.length > 0) {
      const request = this.waiting.shift() as Request;
      const start = performance.now();
      try {
        const { logits, cache } = await this.lm.forward({ ids: request.promptIds, adapters: request.options.adapters });
        request.cache = cache;
        this.rows.push(request);
        this.batched = false;
        request.sequence.push(logits);
      } catch (error) {
        if (this.rows.includes(request)) request.failure = { error };
        else {
          request.detach();
          request.reject(error);
        }
      } finally {
        this.counters.prefills++;
        this.counters.prefillMs += performance.now() - start;
      }
    }
  }

  /** Rows that are done, failed or aborted leave: their requests settle, the batch is rebuilt before the next step. */
  private settleFinished(): void {
    const leaving = this.rows.filter((r) => r.failure || r.sequence.done || r.options.signal?.aborted);
    if (leaving.length === 0) return;
    this.rows = this.rows.filter((r) => !leaving.includes(r));
    for (const r of leaving) {
      if (!('row' in r.cache)) this.lm.release(r.cache);
      r.detach();
      if (r.failure) r.reject(r.failure.error);
      else if (r.sequence.done) r.resolve(r.sequence.result());
      else r.reject(r.options.signal?.reason);
    }
    this.batched = false;
    if (this.rows.length === 0) this.dropBatch();
  }

  /** Join the staying rows of the batch cache and the new requests' own caches into one; restack the adapters. */
  private async rebuild(): Promise<void> {
    const previous = this.cache;
    const parts = this.rows.map((r) => ('row' in r.cache ? { cache: previous as BatchKvCache, row: r.cache.row } : r.cache));
    const cache = await this.lm.batchCaches(parts);
    const adapters = await this.lm.batchAdapters(this.rows.map((r) => r.options.adapters ?? null));
    this.dropBatch();
    for (const [row, r] of this.rows.entries()) {
      if (!('row' in r.cache)) this.lm.release(r.cache);
      r.cache = { row };
    }
    this.cache = cache;
    this.adapters = adapters;
    this.batched = true;
  }

  private async step(): Promise<void> {
    const { logits, cache } = await this.lm.forwardBatch({
      ids: this.rows.map((r) => [r.sequence.lastToken]),
      cache: this.cache,
      adapters: this.adapters,
    });
    if (this.cache) this.lm.release(this.cache);
    this.cache = cache;
    this.counters.steps++;
    this.counters.decodedTokens += this.rows.length;
    const vocab = this.lm.config.vocabSize;
    for (const [row, r] of this.rows.entries()) {
      if (r.options.signal?.aborted) continue;
      try {
        r.sequence.push(logits.subarray(row * vocab, (row + 1) * vocab));
      } catch (error) {
        // A request's own callback (onToken, decode) failing ends that request only.
        r.failure = { error };
      }
    }
  }

  /**
   * One row decodes with the single-sequence forward on its own cache, as `generate` does: the per-row graph at one row
   * is slower. A row left alone by a batch that shrank takes its cache out of the batch cache first; a request that
   * joins later is batched with it by the next rebuild (its own cache is a part like a new request's).
   */
  private async stepAlone(): Promise<void> {
    const r = this.rows[0];
    if ('row' in r.cache) {
      r.cache = await this.lm.unbatchCache(this.cache as BatchKvCache, r.cache.row);
      this.dropBatch();
      this.batched = false;
    }
    const { logits, cache } = await this.lm.forward({ ids: [r.sequence.lastToken], cache: r.cache, adapters: r.options.adapters });
    this.lm.release(r.cache);
    r.cache = cache;
    this.counters.steps++;
    this.counters.soloSteps++;
    this.counters.decodedTokens++;
    if (r.options.signal?.aborted) return;
    try {
      r.sequence.push(logits);
    } catch (error) {
      r.failure = { error };
    }
  }

  private dropBatch(): void {
    if (this.cache) this.lm.release(this.cache);
    if (this.adapters) this.lm.release(this.adapters);
    this.cache = null;
    this.adapters = null;
  }
}
