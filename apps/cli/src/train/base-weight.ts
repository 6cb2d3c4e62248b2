import type { AdapterStore, LoraAdapter } from '@rg/adapter-store';
import type { ModelConfig } from '@rg/engine';
import { type DEFAULT_TARGETS, initAdapter } from '@rg/lora-trainer';
import { UsageError } from '../errors.js';

export interface BaseWeightSpec {
  modelName: string;
  fingerprint: string;
  rank: number;
  alpha: number;
  targets: string[];
  seed: number;
}

/**
 * The shared initial adapter (base_weight) every document's or cluster's training starts from:
 * loaded from the store when present (its targets must match), else initialised like PEFT and stored.
 */
export function loadOrInitBaseWeight(
  store: AdapterStore,
  config: ModelConfig,
  spec: BaseWeightSpec,
  info: (text: string) => void,
): LoraAdapter {
  const baseKey = { model: spec.modelName, rank: spec.rank, alpha: spec.alpha };
  if (store.get(baseKey)) {
    const base = store.load(baseKey, { modelFingerprint: spec.fingerprint });
    const stored = [...base.config.targetModules].sort().join(',');
    if (stored !== [...spec.targets].sort().join(',')) {
      throw new UsageError(
        `--targets ${spec.targets.join(',')}: the stored base_weight targets ${stored} (rg adapter init with other targets, or another --store)`,
      );
    }
    return base;
  }
  const base = initAdapter(config, {
    rank: spec.rank,
    alpha: spec.alpha,
    targets: spec.targets as typeof DEFAULT_TARGETS,
    seed: spec.seed,
    baseModel: spec.modelName,
  });
  store.put(baseKey, base, {
    modelFingerprint: spec.fingerprint,
    mode: 'trained',
    trainingConfig: { init: 'peft-kaiming-uniform', seed: spec.seed },
  });
  info(`no base_weight for ${spec.modelName} rank=${spec.rank} alpha=${spec.alpha}: initialised one (seed ${spec.seed})`);
  return base;
}
