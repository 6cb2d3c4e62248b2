import type { LoraWeights } from '@rg/lora';
import { io, ropePositions } from '../graph/llama.js';
import type { LoraTarget, ModelConfig, ModelWeights } from '../model/config.js';
import { adapterFeeds, checkAdapters } from './adapter-feeds.js';
import { localHost, type SessionHost, type TensorData, workerHost } from './host.js';
import { buildInferenceGraph, type InferenceGraphOptions } from './inference-graph.js';
import { type SessionOptions, sessionOptions } from './session.js';

/** The KV cache after some tokens: an opaque handle, valid until `release`d. */
export interface KvCache {
  readonly length: number;
}

/** LoRA factors prepared for one model: pass to any number of forwards, no session rebuild. */
export interface AdapterSet {
  /** Total rank per module (sum over concatenated adapters); 0 = no adapter. */
  readonly rank: number;
}

export interface ForwardRequest {
  /** New token ids (batch of one). */
  ids: number[];
  /** Tokens already seen; none = start of a sequence. */
  cache?: KvCache | null;
  adapters?: AdapterSet | null;
  /** Logits for the last `numLogits` positions (default 1). */
  numLogits?: number;
}

export interface ForwardResult {
  /** `[numLogits, vocabSize]`, row-major. */
  logits: Float32Array;
  cache: KvCache;
}

/** A causal language model behind an async forward: in-process or in a worker thread. */
export interface CausalLM {
  readonly config: ModelConfig;
  prepareAdapters(lora: LoraWeights | null): Promise<AdapterSet>;
  forward(request: ForwardRequest): Promise<ForwardResult>;
  /** Free a cache or an adapter set no longer needed (the host keeps them until then). */
  release(handle: KvCache | AdapterSet): void;
  dispose(): Promise<void>;
}

/**
 * The KV caches of a batch's rows in one tensor per layer, `[rows, kvHeads, width, headDim]`: row b's tokens are its
 * last `lengths[b]` columns (left padding), so every row appends at the same column. A handle, valid until `release`d.
 */
export interface BatchKvCache {
  readonly lengths: readonly number[];
}

/** The adapter sets of a batch's rows stacked for the per-row graph (a row without adapters gets zeros). */
export interface BatchAdapterSet {
  readonly rows: number;
}

export interface BatchForwardRequest {
  /** New token ids per row: the same count in every row when `cache` is given; any counts (left-padded) without. */
  ids: number[][];
  cache?: BatchKvCache | null;
  /** From `batchAdapters`, one set per row; none = no row has adapters. */
  adapters?: BatchAdapterSet | null;
  /** Logits for the last `numLogits` positions of each row (default 1). */
  numLogits?: number;
}

export interface BatchForwardResult {
  /** `[rows, numLogits, vocabSize]`, row-major. */
  logits: Float32Array;
  cache: BatchKvCache;
}

/** A causal LM that also runs rows of separate requests together, each with its own cache length and adapters. */
export interface BatchedCausalLM extends CausalLM {
  forwardBatch(request: BatchForwardRequest): Promise<BatchForwardResult>;
  /**
   * A batch cache whose rows, in order, are single-sequence caches or rows of batch caches (rows left out are
   * dropped, padding no row needs any more is trimmed). The parts stay valid: release them when done.
   */
  batchCaches(rows: Array<KvCache | { cache: BatchKvCache; row: number }>): Promise<BatchKvCache>;
  /**
   * One row of a batch cache as a single-sequence cache (its padding dropped), for `forward`: a batch that shrank to
   * one row goes on with the single-row graph. The batch cache stays valid.
   */
  unbatchCache(cache: BatchKvCache, row: number): Promise<KvCache>;
  /** Stack one adapter set (or null) per row for `forwardBatch`. */
  batchAdapters(sets: Array<AdapterSet | null>): Promise<BatchAdapterSet>;
  release(handle: KvCache | AdapterSet | BatchKvCache | BatchAdapterSet): void;
}

export interface LoadOptions extends SessionOptions, InferenceGraphOptions {
  /** Run the session in a worker thread so `forward` never blocks the event loop (default false). */
  worker?: boolean;
}

interface HostedCache extends KvCache {
  id: number;
  /** Columns of the cache buffers (≥ length): the attention mask covers them all. */
  capacity: number;
}
interface HostedAdapters extends AdapterSet {
  id: number;
}
interface HostedBatchCache extends BatchKvCache {
  id: number;
  /** Columns in use (≥ every length): row b's tokens are columns width - lengths[b] .. width - 1. */
  width: number;
  /** Columns of the cache buffers (≥ width). */
  capacity: number;
}
interface HostedBatchAdapters extends BatchAdapterSet {
  id: number;
}

const PER_ROW_SESSION = 'per-row';

/**
 * The Llama-family graph on an ORT session, in this thread or in a worker (`LoadOptions.worker`). Batched forwards
 * run the per-row graph (`buildLlamaGraph` `perRow`) as a second session of the same host, created on first use, so
 * single-sequence caches and adapter sets can be joined into batches where they live.
 */
export class OrtCausalLM implements BatchedCausalLM {
  private perRowSession: Promise<void> | null = null;
  /** Empty caches by row count (batched forwards without a cache). */
  private readonly emptyBatchCaches = new Map<number, Promise<number>>();

  private constructor(
    readonly config: ModelConfig,
    private readonly host: SessionHost,
    readonly loraTargets: readonly LoraTarget[],
    private readonly emptyCache: HostedCache,
    private readonly noAdapters: HostedAdapters,
    private readonly createPerRowSession: () => Promise<void>,
  ) {}

  static async load(config: ModelConfig, weights: ModelWeights, options: LoadOptions = {}): Promise<OrtCausalLM> {
    const { graph, externalData } = buildInferenceGraph(config, weights, options, false);
    const constants: Record<string, TensorData> = {};
    for (const name of graph.weightInputs) {
      const t = weights.get(name);
      if (!t) throw new Error(`model weights: missing tensor '${name}'`);
      constants[name] = { type: 'float32', data: t.data, dims: t.dims };
    }
    const spec = { model: graph.model, sessionOptions: sessionOptions({ ...options, externalData }), constants };
    const host = await (options.worker ? workerHost(spec) : localHost(spec));
    const emptyCache = { length: 0, capacity: 1, id: await host.emptyKv(emptyKvRequest(config, 1)) };
    const noAdapters = { rank: 0, id: await host.store(adapterFeeds(config, graph.loraTargets, null)) };
    const createPerRowSession = async () => {
      // Compact weights are initializers of the session's own external data, written as the graph is built: a second
      // graph needs its own (the first session's bytes were handed over and dropped).
      const perRow = buildInferenceGraph(config, weights, options, true);
      await host.addSession(PER_ROW_SESSION, perRow.graph.model, sessionOptions({ ...options, externalData: perRow.externalData }));
    };
    return new OrtCausalLM(config, host, graph.loraTargets, emptyCache, noAdapters, createPerRowSession);
  }

  async prepareAdapters(lora: LoraWeights | null): Promise<AdapterSet> {
    if (lora) checkAdapters(this.config, this.loraTargets, lora);
    const id = await this.host.store(adapterFeeds(this.config, this.loraTargets, lora));
    return { rank: lora?.rank ?? 0, id } as HostedAdapters;
  }

  async forward(request: ForwardRequest): Promise<ForwardResult> {
    const { ids } = request;
    const cache = (request.cache as HostedCache | null | undefined) ?? this.emptyCache;
    const adapters = (request.adapters as HostedAdapters | null | undefined) ?? this.noAdapters;
    const numLogits = request.numLogits ?? 1;
    if (ids.length === 0) throw new Error('forward: no token ids');
    if (numLogits < 1 || numLogits > ids.length) throw new Error(`forward: numLogits ${numLogits} must be in 1..${ids.length}`);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize)
        throw new Error(`forward: token id ${id} outside the vocabulary 0..${this.config.vocabSize - 1}`);
    }
    const { length, capacity } = cache;
    const seq = ids.length;
    checkPositions(this.config, length + seq, 'forward');
    // The cache's tokens are its first `length` columns; the new tokens come after all `capacity` columns.
    const mask = new BigInt64Array(capacity + seq);
    mask.fill(1n, 0, length);
    mask.fill(1n, capacity);
    const {
      outputs,
      kept,
      capacity: nextCapacity,
    } = await this.host.run({
      feeds: {
        [io.inputIds]: { type: 'int64', data: BigInt64Array.from(ids, BigInt), dims: [1, seq] },
        [io.positionIds]: { type: 'int64', data: BigInt64Array.from(ids, (_, t) => BigInt(length + t)), dims: [1, seq] },
        [io.attentionMask]: { type: 'int64', data: mask, dims: [1, capacity + seq] },
        [io.numLogits]: { type: 'int64', data: BigInt64Array.of(BigInt(numLogits)), dims: [1] },
      },
      use: [adapters.id],
      cache: { id: cache.id, append: this.appendNames() },
      outputs: [io.logits],
    });
    const next: HostedCache = { length: length + seq, id: kept as number, capacity: nextCapacity as number };
    return { logits: outputs[io.logits].data as Float32Array, cache: next };
  }

  async forwardBatch(request: BatchForwardRequest): Promise<BatchForwardResult> {
    const { ids } = request;
    const cache = request.cache as HostedBatchCache | null | undefined;
    const rows = ids.length;
    const numLogits = request.numLogits ?? 1;
    if (rows === 0) throw new Error('forwardBatch: no rows');
    if (cache && cache.lengths.length !== rows) throw new Error(`forwardBatch: ${rows} rows of ids for a cache of ${cache.lengths.length}`);
    const adapters = request.adapters as HostedBatchAdapters | null | undefined;
    if (adapters && adapters.rows !== rows) throw new Error(`forwardBatch: ${rows} rows of ids for adapters of ${adapters.rows}`);
    const seq = Math.max(...ids.map((r) => r.length));
    checkPositions(this.config, Math.max(...(cache?.lengths ?? [0])) + seq, 'forwardBatch');
    // A cache keeps each row's tokens in its last columns: new tokens must fill the same new columns in every row.
    if (cache && ids.some((r) => r.length !== seq)) throw new Error('forwardBatch: with a cache, every row needs the same number of ids');
    for (const row of ids) {
      if (row.length === 0) throw new Error('forwardBatch: a row without token ids');
      if (numLogits < 1 || numLogits > row.length) throw new Error(`forwardBatch: numLogits ${numLogits} must be in 1..${row.length}`);
      for (const id of row) {
        if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize)
          throw new Error(`forwardBatch: token id ${id} outside the vocabulary 0..${this.config.vocabSize - 1}`);
      }
    }
    await this.ensurePerRowSession();
    const width = cache?.width ?? 0;
    const capacity = cache?.capacity ?? 1;
    const cacheId = cache?.id ?? (await this.emptyBatchCache(rows));
    const lengths = cache?.lengths ?? ids.map(() => 0);
    const columns = capacity + seq;
    const inputIds = new BigInt64Array(rows * seq);
    const positionIds = new BigInt64Array(rows * seq);
    const mask = new BigInt64Array(rows * columns);
    ids.forEach((row, b) => {
      const pad = seq - row.length;
      row.forEach((id, t) => {
        inputIds[b * seq + pad + t] = BigInt(id);
        positionIds[b * seq + pad + t] = BigInt(lengths[b] + t);
      });
      mask.fill(1n, b * columns + width - lengths[b], b * columns + width);
      mask.fill(1n, b * columns + capacity + pad, (b + 1) * columns);
    });
    const feeds: Record<string, TensorData> = {
      [io.inputIds]: { type: 'int64', data: inputIds, dims: [rows, seq] },
      [io.positionIds]: { type: 'int64', data: positionIds, dims: [rows, seq] },
      [io.attentionMask]: { type: 'int64', data: mask, dims: [rows, columns] },
      [io.numLogits]: { type: 'int64', data: BigInt64Array.of(BigInt(numLogits)), dims: [1] },
    };
    const stacked = (adapters ?? (await this.batchAdapters(ids.map(() => null)))) as HostedBatchAdapters;
    try {
      const {
        outputs,
        kept,
        capacity: nextCapacity,
      } = await this.host.run({
        session: PER_ROW_SESSION,
        feeds,
        use: [stacked.id],
        cache: { id: cacheId, append: this.appendNames() },
        outputs: [io.logits],
      });
      const next: HostedBatchCache = {
        lengths: ids.map((r, b) => lengths[b] + r.length),
        width: width + seq,
        id: kept as number,
        capacity: nextCapacity as number,
      };
      return { logits: outputs[io.logits].data as Float32Array, cache: next };
    } finally {
      if (!adapters) this.host.release(stacked.id);
    }
  }

  async batchCaches(rows: Array<KvCache | { cache: BatchKvCache; row: number }>): Promise<BatchKvCache> {
    if (rows.length === 0) throw new Error('batchCaches: no rows');
    const parts = rows.map((r) => {
      if ('row' in r) {
        const c = r.cache as HostedBatchCache;
        if (!Number.isInteger(r.row) || r.row < 0 || r.row >= c.lengths.length)
          throw new Error(`batchCaches: row ${r.row} outside a batch cache of ${c.lengths.length}`);
        return { id: c.id, row: r.row, length: c.lengths[r.row] };
      }
      const c = r as HostedCache;
      return { id: c.id, row: 0, length: c.length };
    });
    const { id, capacity } = await this.host.stackKv({ rows: parts });
    const lengths = parts.map((p) => p.length);
    return { lengths, width: Math.max(...lengths), id, capacity } as HostedBatchCache;
  }

  async unbatchCache(cache: BatchKvCache, row: number): Promise<KvCache> {
    const c = cache as HostedBatchCache;
    if (!Number.isInteger(row) || row < 0 || row >= c.lengths.length)
      throw new Error(`unbatchCache: row ${row} outside a batch cache of ${c.lengths.length}`);
    // One row stacked alone has its tokens in its first `length` columns: the layout `forward` keeps.
    const length = c.lengths[row];
    const { id, capacity } = await this.host.stackKv({ rows: [{ id: c.id, row, length }] });
    return { length, id, capacity } as HostedCache;
  }

  async batchAdapters(sets: Array<AdapterSet | null>): Promise<BatchAdapterSet> {
    if (sets.length === 0) throw new Error('batchAdapters: no rows');
    const rows = sets.map((s) => ({ id: ((s as HostedAdapters | null) ?? this.noAdapters).id }));
    const axes: Record<string, number> = {};
    for (let layer = 0; layer < this.config.numLayers; layer++) {
      for (const target of this.loraTargets) {
        axes[io.loraA(layer, target)] = 0;
        axes[io.loraB(layer, target)] = 1;
      }
    }
    // Rank at least 1 (zeros) even where no row adapts a module: ORT's batched MatMul over an inner dimension of 0 leaves
    // its output uninitialized instead of zero (the 2-D Gemm of the single-row graph handles rank 0).
    return { rows: sets.length, id: await this.host.stack({ rows, axes, minLength: 1 }) } as HostedBatchAdapters;
  }

  /**
   * Makes the session of the batched (per-row) graph now rather than on the first forwardBatch, which would wait for
   * it (seconds: a second session over the weights, compact ones quantized again): a server that batches calls this
   * at start, so that its first concurrent requests do not pay for it.
   */
  prepareBatched(): Promise<void> {
    return this.ensurePerRowSession();
  }

  private ensurePerRowSession(): Promise<void> {
    this.perRowSession ??= this.createPerRowSession();
    return this.perRowSession;
  }

  /** An empty cache of `rows` rows (made once per row count; never appended to in place). */
  private emptyBatchCache(rows: number): Promise<number> {
    let id = this.emptyBatchCaches.get(rows);
    if (!id) {
      id = this.host.emptyKv(emptyKvRequest(this.config, rows));
      this.emptyBatchCaches.set(rows, id);
    }
    return id;
  }

  /** The graph's new K/V outputs, by the cache input each is appended to. */
  private appendNames(): Record<string, string> {
    const append: Record<string, string> = {};
    for (let layer = 0; layer < this.config.numLayers; layer++) {
      append[io.presentKey(layer)] = io.pastKey(layer);
      append[io.presentValue(layer)] = io.pastValue(layer);
    }
    return append;
  }

  release(handle: KvCache | AdapterSet | BatchKvCache | BatchAdapterSet): void {
    const { id } = handle as HostedCache;
    if (id !== this.emptyCache.id && id !== this.noAdapters.id) this.host.release(id);
  }

  async dispose(): Promise<void> {
    await this.host.dispose();
  }
}

function checkPositions(config: ModelConfig, positions: number, what: string): void {
  const max = ropePositions(config);
  if (positions > max) throw new Error(`${what}: ${positions} positions, more than the ${max} this model's graph covers`);
}

function emptyKvRequest(config: ModelConfig, rows: number) {
  const names: string[] = [];
  for (let layer = 0; layer < config.numLayers; layer++) names.push(io.pastKey(layer), io.pastValue(layer));
  return { names, rows, heads: config.numKvHeads, headDim: config.headDim };
}
