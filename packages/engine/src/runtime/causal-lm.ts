import type { LoraWeights } from '@rg/adapter-store';
import * as ort from 'onnxruntime-node';
import { buildLlamaGraph, io } from '../graph/llama.js';
import { type LoraTarget, type ModelConfig, type ModelWeights, targetShape } from '../model/config.js';
import { createSession, type SessionOptions } from './session.js';
import { nbitsWeights, type WeightFormat } from './weights.js';

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
  /** Free a cache (and an adapter set) no longer needed; a no-op in-process, where GC does it. */
  release(handle: KvCache | AdapterSet): void;
  dispose(): Promise<void>;
}

export interface LoadOptions extends SessionOptions {
  /** Modules that accept LoRA inputs (default: all seven). */
  loraTargets?: readonly LoraTarget[];
  /** Projection weights: 'f32' (exact, dense graph inputs) or 'q4' (4-bit blocks, MatMulNBits). Default 'f32'. */
  weightFormat?: WeightFormat;
}

interface OrtCache extends KvCache {
  feeds: Record<string, ort.Tensor>;
}
interface OrtAdapters extends AdapterSet {
  feeds: Record<string, ort.Tensor>;
}

/** Runs the Llama-family graph in this thread (session.run blocks the event loop: see `WorkerCausalLM`). */
export class OrtCausalLM implements CausalLM {
  private constructor(
    readonly config: ModelConfig,
    private readonly session: ort.InferenceSession,
    private readonly weightFeeds: Record<string, ort.Tensor>,
    readonly loraTargets: readonly LoraTarget[],
    private readonly emptyCache: OrtCache,
    private readonly noAdapters: OrtAdapters,
  ) {}

  static async load(config: ModelConfig, weights: ModelWeights, options: LoadOptions = {}): Promise<OrtCausalLM> {
    const format = options.weightFormat ?? 'f32';
    const nbits = format === 'f32' ? undefined : nbitsWeights(weights, format);
    const graph = buildLlamaGraph(config, { loraTargets: options.loraTargets, linearWeight: nbits?.linearWeight });
    const weightFeeds: Record<string, ort.Tensor> = {};
    for (const name of graph.weightInputs) {
      const t = weights.get(name);
      if (!t) throw new Error(`model weights: missing tensor '${name}'`);
      weightFeeds[name] = new ort.Tensor('float32', t.data, t.dims);
    }
    const session = await createSession(graph.model, { ...options, externalData: nbits?.externalData() });
    const emptyCache: OrtCache = { length: 0, feeds: {} };
    const empty = new Float32Array(0);
    for (let layer = 0; layer < config.numLayers; layer++) {
      emptyCache.feeds[io.pastKey(layer)] = new ort.Tensor('float32', empty, [1, config.numKvHeads, 0, config.headDim]);
      emptyCache.feeds[io.pastValue(layer)] = new ort.Tensor('float32', empty, [1, config.numKvHeads, 0, config.headDim]);
    }
    const lm = new OrtCausalLM(config, session, weightFeeds, graph.loraTargets, emptyCache, { rank: 0, feeds: {} });
    Object.assign(lm.noAdapters.feeds, lm.adapterFeeds(null));
    return lm;
  }

  async prepareAdapters(lora: LoraWeights | null): Promise<AdapterSet> {
    return { rank: lora?.rank ?? 0, feeds: this.adapterFeeds(lora) } as OrtAdapters;
  }

  private adapterFeeds(lora: LoraWeights | null): Record<string, ort.Tensor> {
    if (lora) checkAdapters(this.config, this.loraTargets, lora);
    const feeds: Record<string, ort.Tensor> = {};
    for (let layer = 0; layer < this.config.numLayers; layer++) {
      for (const target of this.loraTargets) {
        const { inFeatures, outFeatures } = targetShape(this.config, target);
        const m = lora?.modules.get(`${layer}.${target}`);
        const rank = m?.rank ?? 0;
        feeds[io.loraA(layer, target)] = new ort.Tensor('float32', m?.a ?? new Float32Array(0), [rank, inFeatures]);
        feeds[io.loraB(layer, target)] = new ort.Tensor('float32', m?.b ?? new Float32Array(0), [outFeatures, rank]);
      }
    }
    return feeds;
  }

  async forward(request: ForwardRequest): Promise<ForwardResult> {
    const { ids } = request;
    const cache = (request.cache as OrtCache | null | undefined) ?? this.emptyCache;
    const adapters = (request.adapters as OrtAdapters | null | undefined) ?? this.noAdapters;
    const numLogits = request.numLogits ?? 1;
    if (ids.length === 0) throw new Error('forward: no token ids');
    if (numLogits < 1 || numLogits > ids.length) throw new Error(`forward: numLogits ${numLogits} must be in 1..${ids.length}`);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize)
        throw new Error(`forward: token id ${id} outside the vocabulary 0..${this.config.vocabSize - 1}`);
    }
    const feeds: Record<string, ort.Tensor> = {
      ...this.weightFeeds,
      ...cache.feeds,
      ...adapters.feeds,
      [io.inputIds]: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      [io.numLogits]: new ort.Tensor('int64', BigInt64Array.of(BigInt(numLogits)), [1]),
    };
    const out = await this.session.run(feeds);
    const next: OrtCache = { length: cache.length + ids.length, feeds: {} };
    for (let layer = 0; layer < this.config.numLayers; layer++) {
      next.feeds[io.pastKey(layer)] = out[io.presentKey(layer)];
      next.feeds[io.pastValue(layer)] = out[io.presentValue(layer)];
    }
    return { logits: out[io.logits].data as Float32Array, cache: next };
  }

  release(_handle: KvCache | AdapterSet): void {}

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** An adapter must target modules the graph has inputs for, with this model's shapes. */
export function checkAdapters(config: ModelConfig, graphTargets: readonly LoraTarget[], lora: LoraWeights): void {
  for (const [key, m] of lora.modules) {
    const [layerText, target] = key.split('.');
    const layer = Number(layerText);
    if (!Number.isInteger(layer) || layer < 0 || layer >= config.numLayers)
      throw new Error(`adapter module '${key}': layer ${layerText} outside 0..${config.numLayers - 1}`);
    if (!graphTargets.includes(target as LoraTarget))
      throw new Error(`adapter module '${key}': target '${target}' is not one of this model's LoRA targets (${graphTargets.join(', ')})`);
    const { inFeatures, outFeatures } = targetShape(config, target as LoraTarget);
    if (m.inFeatures !== inFeatures || m.outFeatures !== outFeatures) {
      throw new Error(
        `adapter module '${key}': shape [in ${m.inFeatures}, out ${m.outFeatures}] does not fit the model's [in ${inFeatures}, out ${outFeatures}]`,
      );
    }
    if (m.a.length !== m.rank * inFeatures || m.b.length !== outFeatures * m.rank)
      throw new Error(`adapter module '${key}': A/B sizes do not match rank ${m.rank}`);
  }
}
