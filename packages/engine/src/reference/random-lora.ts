import type { LoraWeights } from '@rg/lora';
import { seededRandom } from '../generate/prng.js';
import { type LoraTarget, type ModelConfig, targetShape } from '../model/config.js';

/** A random LoRA set (A and B both non-zero, so it changes the output). */
export function randomLora(config: ModelConfig, rank: number, targets: readonly LoraTarget[], seed = 7, scale = 0.1): LoraWeights {
  const rand = seededRandom(seed);
  const fill = (n: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
  const modules: LoraWeights['modules'] = new Map();
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const target of targets) {
      const { inFeatures, outFeatures } = targetShape(config, target);
      modules.set(`${layer}.${target}`, { rank, inFeatures, outFeatures, a: fill(rank * inFeatures), b: fill(outFeatures * rank) });
    }
  }
  return { rank, targets: [...targets], modules };
}
