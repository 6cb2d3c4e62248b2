import { buildLlamaGraph } from '../graph/llama.js';
import type { LoraTarget, ModelConfig, ModelWeights } from '../model/config.js';
import { type QuantCache, readQuantCache, writeQuantCache } from './quant-cache.js';
import { nbitsWeights, QuantCacheMismatch, type WeightFormat } from './weights.js';

export interface InferenceGraphOptions {
  /** Modules that accept LoRA inputs (default: all seven). */
  loraTargets?: readonly LoraTarget[];
  /** Projection weights: 'f32' (exact, dense graph inputs), 'q4' or 'q8' (4/8-bit blocks, MatMulNBits). Default 'f32'. */
  weightFormat?: WeightFormat;
  /** q8/q4: keep the quantized projections here and reuse them (quantCacheFor: RG_HOME/cache/quantized for a GGUF). */
  quantCache?: QuantCache;
}

/**
 * The inference graph (single-row or per-row) with its compact weights: from the quantization cache when it holds
 * this graph's, else quantized now and kept there.
 */
export function buildInferenceGraph(config: ModelConfig, weights: ModelWeights, options: InferenceGraphOptions, perRow: boolean) {
  const format = options.weightFormat ?? 'f32';
  const build = (cached?: Uint8Array) => {
    const nbits = format === 'f32' ? undefined : nbitsWeights(weights, format === 'q8' ? 8 : 4, cached);
    const graph = buildLlamaGraph(config, {
      loraTargets: options.loraTargets,
      linearWeight: nbits?.linearWeight,
      linearGroup: nbits?.linearGroup,
      perRow: perRow || undefined,
    });
    return { graph, externalData: nbits?.externalData() };
  };
  const cache = options.quantCache;
  if (format === 'f32' || !cache) return build();
  const what = `${format}|${perRow ? 'per-row' : 'one-row'}|${(options.loraTargets ?? ['all']).join(',')}`;
  const cached = readQuantCache(cache, what);
  if (cached) {
    try {
      return build(cached);
    } catch (e) {
      if (!(e instanceof QuantCacheMismatch)) throw e;
    }
  }
  const built = build();
  const data = built.externalData?.[0]?.data;
  if (data) writeQuantCache(cache, what, data);
  return built;
}
