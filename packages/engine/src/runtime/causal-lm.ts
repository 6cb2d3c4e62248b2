import type { LoraWeights } from '@rg/adapter-store';
import { buildLlamaGraph, io } from '../graph/llama.js';
import { type LoraTarget, type ModelConfig, type ModelWeights, targetShape } from '../model/config.js';
import { localHost, type SessionHost, type TensorData, workerHost } from './host.js';
import { type SessionOptions, sessionOptions } from './session.js';
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
  /** Free a cache or an adapter set no longer needed (the host keeps them until then). */
  release(handle: KvCache | AdapterSet): void;
  dispose(): Promise<void>;
}

export interface LoadOptions extends SessionOptions {
  /** Modules that accept LoRA inputs (default: all seven). */
  loraTargets?: readonly LoraTarget[];
  /** Projection weights: 'f32' (exact, dense graph inputs) or 'q4' (4-bit blocks, MatMulNBits). Default 'f32'. */
  weightFormat?: WeightFormat;
  /** Run the session in a worker thread so `forward` never blocks the event loop (default false). */
  worker?: boolean;
}

interface HostedCache extends KvCache {
  id: number;
}
interface HostedAdapters extends AdapterSet {
  id: number;
}

/** The Llama-family graph on an ORT session, in this thread or in a worker (`LoadOptions.worker`). */
export class OrtCausalLM implements CausalLM {
  private constructor(
    readonly config: ModelConfig,
    private readonly host: SessionHost,
    readonly loraTargets: readonly LoraTarget[],
    private readonly emptyCache: HostedCache,
    private readonly noAdapters: HostedAdapters,
  ) {}

  static async load(config: ModelConfig, weights: ModelWeights, options: LoadOptions = {}): Promise<OrtCausalLM> {
    const format = options.weightFormat ?? 'f32';
    const nbits = format === 'f32' ? undefined : nbitsWeights(weights);
    const graph = buildLlamaGraph(config, { loraTargets: options.loraTargets, linearWeight: nbits?.linearWeight });
    const constants: Record<string, TensorData> = {};
    for (const name of graph.weightInputs) {
      const t = weights.get(name);
      if (!t) throw new Error(`model weights: missing tensor '${name}'`);
      constants[name] = { type: 'float32', data: t.data, dims: t.dims };
    }
    const spec = { model: graph.model, sessionOptions: sessionOptions({ ...options, externalData: nbits?.externalData() }), constants };
    const host = await (options.worker ? workerHost(spec) : localHost(spec));
    const empty: Record<string, TensorData> = {};
    for (let layer = 0; layer < config.numLayers; layer++) {
      for (const name of [io.pastKey(layer), io.pastValue(layer)]) {
        empty[name] = { type: 'float32', data: new Float32Array(0), dims: [1, config.numKvHeads, 0, config.headDim] };
      }
    }
    const emptyCache = { length: 0, id: await host.store(empty) };
    const noAdapters = { rank: 0, id: await host.store(adapterFeeds(config, graph.loraTargets, null)) };
    return new OrtCausalLM(config, host, graph.loraTargets, emptyCache, noAdapters);
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
    const keep: Record<string, string> = {};
    for (let layer = 0; layer < this.config.numLayers; layer++) {
      keep[io.presentKey(layer)] = io.pastKey(layer);
      keep[io.presentValue(layer)] = io.pastValue(layer);
    }
    const { outputs, kept } = await this.host.run({
      feeds: {
        [io.inputIds]: { type: 'int64', data: BigInt64Array.from(ids, BigInt), dims: [1, ids.length] },
        [io.numLogits]: { type: 'int64', data: BigInt64Array.of(BigInt(numLogits)), dims: [1] },
      },
      use: [cache.id, adapters.id],
      keep,
      outputs: [io.logits],
    });
    const next: HostedCache = { length: cache.length + ids.length, id: kept as number };
    return { logits: outputs[io.logits].data as Float32Array, cache: next };
  }

  release(handle: KvCache | AdapterSet): void {
    const { id } = handle as HostedCache;
    if (id !== this.emptyCache.id && id !== this.noAdapters.id) this.host.release(id);
  }

  async dispose(): Promise<void> {
    await this.host.dispose();
  }
}

function adapterFeeds(config: ModelConfig, targets: readonly LoraTarget[], lora: LoraWeights | null): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const target of targets) {
      const { inFeatures, outFeatures } = targetShape(config, target);
      const m = lora?.modules.get(`${layer}.${target}`);
      const rank = m?.rank ?? 0;
      feeds[io.loraA(layer, target)] = { type: 'float32', data: m?.a ?? new Float32Array(0), dims: [rank, inFeatures] };
      feeds[io.loraB(layer, target)] = { type: 'float32', data: m?.b ?? new Float32Array(0), dims: [outFeatures, rank] };
    }
  }
  return feeds;
}

/** An adapter that does not fit the model (target module, layer or shape). */
export class AdapterMismatchError extends Error {
  override name = 'AdapterMismatchError';
}

/** An adapter must target modules the graph has inputs for, with this model's shapes. */
export function checkAdapters(config: ModelConfig, graphTargets: readonly LoraTarget[], lora: LoraWeights): void {
  for (const [key, m] of lora.modules) {
    const [layerText, target] = key.split('.');
    const layer = Number(layerText);
    if (!Number.isInteger(layer) || layer < 0 || layer >= config.numLayers)
      throw new AdapterMismatchError(`adapter module '${key}': layer ${layerText} outside 0..${config.numLayers - 1}`);
    if (!graphTargets.includes(target as LoraTarget))
      throw new AdapterMismatchError(
        `adapter module '${key}': target '${target}' is not one of this model's LoRA targets (${graphTargets.join(', ')})`,
      );
    const { inFeatures, outFeatures } = targetShape(config, target as LoraTarget);
    if (m.inFeatures !== inFeatures || m.outFeatures !== outFeatures) {
      throw new AdapterMismatchError(
        `adapter module '${key}': shape [in ${m.inFeatures}, out ${m.outFeatures}] does not fit the model's [in ${inFeatures}, out ${outFeatures}]`,
      );
    }
    if (m.a.length !== m.rank * inFeatures || m.b.length !== outFeatures * m.rank)
      throw new AdapterMismatchError(`adapter module '${key}': A/B sizes do not match rank ${m.rank}`);
  }
}
