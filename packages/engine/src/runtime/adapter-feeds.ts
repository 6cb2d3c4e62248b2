import type { LoraWeights } from '@rg/lora';
import { io } from '../graph/llama.js';
import { type LoraTarget, type ModelConfig, targetShape } from '../model/config.js';
import type { TensorData } from './host.js';

/** An adapter set's graph inputs: A/B per (layer, target) of the graph, rank 0 where the set has no such module. */
export function adapterFeeds(config: ModelConfig, targets: readonly LoraTarget[], lora: LoraWeights | null): Record<string, TensorData> {
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
