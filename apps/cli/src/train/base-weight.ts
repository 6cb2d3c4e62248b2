import { basename } from 'node:path';
import type { AdapterStore, LoraAdapter } from '@rg/adapter-store';
import { type LoadedModel, type ModelConfig, TrainingSession } from '@rg/engine';
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

export interface TrainingRunFlags {
  rank: number;
  alpha: number;
  targets: string[];
  seed: number;
  lr: number;
  epochs: number;
  dataset?: string;
}

/**
 * What `rg encode` and `rg cluster train` share before their loops: the base_weight, one training
 * session reused for every document or cluster, and the store scope their adapters are saved under.
 */
export async function prepareTrainingRun(
  store: AdapterStore,
  model: LoadedModel,
  run: { modelName: string; fingerprint: string; input: string; threads: number; flags: TrainingRunFlags },
  info: (text: string) => void,
) {
  const { flags } = run;
  const base = loadOrInitBaseWeight(
    store,
    model.config,
    {
      modelName: run.modelName,
      fingerprint: run.fingerprint,
      rank: flags.rank,
      alpha: flags.alpha,
      targets: flags.targets,
      seed: flags.seed,
    },
    info,
  );
  if (!model.tokenizer.chatTemplate)
    throw new UsageError(`${model.source.path}: the model has no chat template, which the training recipe needs`);
  const session = await TrainingSession.create(model.config, model.weights, {
    targets: flags.targets as typeof DEFAULT_TARGETS,
    threads: run.threads,
  });
  const scope = {
    model: run.modelName,
    rank: flags.rank,
    alpha: flags.alpha,
    dataset: flags.dataset ?? basename(run.input).replace(/\.[^.]*$/, ''),
    lr: flags.lr,
    epochs: flags.epochs,
  };
  return { base, session, scope };
}
