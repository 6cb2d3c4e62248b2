import { type LoraTarget, type ModelConfig, seededRandom, targetShape } from '@rg/engine';
import type { LoraAdapter, LoraPair } from '@rg/lora';

export interface InitOptions {
  rank: number;
  alpha: number;
  targets: readonly LoraTarget[];
  seed?: number;
  baseModel?: string | null;
}

/** The method's defaults: rank 2, alpha 32, the three MLP projections. */
export const DEFAULT_TARGETS: readonly LoraTarget[] = ['gate_proj', 'up_proj', 'down_proj'];

/**
 * The shared initial adapter ("base_weight") every document's training starts from, initialised as
 * PEFT does by default: A ~ kaiming_uniform(a=√5) = U(-1/√in, 1/√in), B = 0 (so it starts as a no-op).
 */
export function initAdapter(config: ModelConfig, options: InitOptions): LoraAdapter {
  if (!Number.isInteger(options.rank) || options.rank < 1)
    throw new Error(`adapter init: rank must be a positive integer, got ${options.rank}`);
  if (!(options.alpha > 0)) throw new Error(`adapter init: alpha must be > 0, got ${options.alpha}`);
  const random = seededRandom(options.seed ?? 0);
  const modules = new Map<string, LoraPair>();
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const target of options.targets) {
      const { inFeatures, outFeatures } = targetShape(config, target);
      const bound = 1 / Math.sqrt(inFeatures);
      const a = Float32Array.from({ length: options.rank * inFeatures }, () => (random() * 2 - 1) * bound);
      modules.set(`${layer}.${target}`, { inFeatures, outFeatures, a, b: new Float32Array(outFeatures * options.rank) });
    }
  }
  return {
    config: {
      rank: options.rank,
      alpha: options.alpha,
      targetModules: [...options.targets],
      baseModel: options.baseModel ?? null,
      useRslora: false,
      dropout: 0,
    },
    modules,
  };
}
