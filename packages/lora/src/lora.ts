/**
 * LoRA weights in memory, ready to feed to the engine. For each (layer, target module):
 * A [rank, in] and B [out, rank], with the adapter's scale (alpha / r, times any per-adapter
 * weight of a composition) already folded into B, so the engine computes x·Aᵀ·Bᵀ and nothing else.
 * Composing k adapters by concatenation along the rank axis gives rank = sum of ranks
 * (PEFT's "cat" combination); rank 0 means no adapter.
 */
export interface LoraModule {
  rank: number;
  inFeatures: number;
  outFeatures: number;
  /** [rank, inFeatures], row-major. */
  a: Float32Array;
  /** [outFeatures, rank], row-major, scale folded in. */
  b: Float32Array;
}

/** Key of a module inside a LoraWeights map: `${layer}.${target}`, e.g. "3.down_proj". */
export function moduleKey(layer: number, target: string): string {
  return `${layer}.${target}`;
}

export interface LoraWeights {
  /** The same rank for every module of the set. */
  rank: number;
  targets: string[];
  modules: Map<string, LoraModule>;
}
