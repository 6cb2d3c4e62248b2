import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { AdapterStore, type LoraAdapter } from '@rg/adapter-store';
import { AugmentDataError, type AugmentedRecord, readAugmented } from '@rg/augment';
import { type LoadedModel, loadModel, type ModelConfig, TrainingSession } from '@rg/engine';
import {
  DEFAULT_RECIPE,
  DEFAULT_TARGETS,
  type EncodeContext,
  type EncodeOptions,
  EXAMPLE_LAYOUTS,
  type ExampleLayout,
  initAdapter,
  LOSS_SPANS,
  type LossSpan,
  type Recipe,
  RecipeMismatchError,
  resolveRecipe,
  type TrainMode,
} from '@rg/lora-trainer';
import { type Command, Option } from 'commander';
import type { Config } from '../config.js';
import { UsageError } from '../errors.js';
import { nonNegativeInt, positiveInt, positiveNumber } from '../parse.js';
import { modelFingerprint, modelKeyName, targetList } from './common.js';

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

export interface TrainerFlags extends TrainingRunFlags {
  mode: TrainMode;
  batchSize: number;
  gradAccumulation: number;
  maxTokens: number;
  examples: ExampleLayout;
  loss: LossSpan;
}

/** The training flags rg encode and rg cluster train share (`unit`: what one adapter's epochs run over). */
export function addTrainerOptions(command: Command, unit: string): Command {
  return command
    .option('--rank <r>', 'LoRA rank', positiveInt, 2)
    .option('--alpha <a>', 'LoRA alpha', positiveNumber, 32)
    .option('--lr <lr>', 'AdamW learning rate', positiveNumber, 3e-4)
    .option('--epochs <n>', `epochs over each ${unit}’s examples`, positiveInt, 1)
    .option('--batch-size <n>', 'examples per batch', positiveInt, 1)
    .option('--grad-accumulation <n>', 'batches per optimizer step', positiveInt, 1)
    .option('--targets <list>', 'target modules (must match the stored base_weight)', targetList, [...DEFAULT_TARGETS])
    .addOption(
      new Option('--mode <mode>', 'lora: trained weights; gradient: the raw gradient at base_weight')
        .choices(['lora', 'gradient'])
        .default('lora'),
    )
    .option('--seed <s>', 'seed of shuffling, the QA split and (if none is stored) the base_weight init', nonNegativeInt, 0)
    .option('--max-tokens <n>', 'leave out training examples longer than this', positiveInt, 1024)
    .addOption(examplesOption())
    .addOption(lossOption());
}

/** `--examples`: the recipe's example layout (rg encode, rg cluster train, and rg bench e2e passing it on). */
export function examplesOption(): Option {
  return new Option(
    '--examples <layout>',
    'qa: QA pairs, half with the passage or rewrite in the prompt (seeded); prag: PRAG’s layout (first ceil(N/2) pairs with passage and rewrite, the rest closed-book); passage: continued pretraining on the passage and rewrite text',
  )
    .choices(EXAMPLE_LAYOUTS)
    .default(DEFAULT_RECIPE.examples);
}

/** `--loss`: the tokens the recipe's loss covers. */
export function lossOption(): Option {
  return new Option('--loss <span>', 'tokens the loss covers: answer (the assistant turn) or all (every token; passage always)')
    .choices(LOSS_SPANS)
    .default(DEFAULT_RECIPE.loss);
}

/** The recipe flags as arguments of rg encode / rg cluster train, for commands that run them as steps. */
export function recipeArgs(flags: { examples: ExampleLayout; loss: LossSpan }): string[] {
  return ['--examples', flags.examples, '--loss', flags.loss];
}

/** The trainer's options from the flags rg encode and rg cluster train share. */
export function trainerOptions(flags: TrainerFlags): EncodeOptions {
  return {
    mode: flags.mode,
    lr: flags.lr,
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    gradAccumulation: flags.gradAccumulation,
    seed: flags.seed,
    maxTokens: flags.maxTokens,
    recipe: { examples: flags.examples, loss: flags.loss },
  };
}

/** The recipe the adapters are trained with (as recorded with them): for the run's summary. */
export function trainerRecipe(flags: TrainerFlags): Recipe {
  return resolveRecipe({ examples: flags.examples, loss: flags.loss });
}

/**
 * Stored adapters of another recipe (RecipeMismatchError) are the user's to sort out: a usage error, with the flags
 * that keep both (`hint`, e.g. "--store DIR or --dataset NAME").
 */
export function recipeMismatchAsUsage(hint: string): (e: unknown) => never {
  return (e) => {
    throw e instanceof RecipeMismatchError ? new UsageError(`${e.message} (${hint})`) : e;
  };
}

/** The augmented records of --input (rg augment output); a missing or malformed file is a usage error naming it. */
export async function readAugmentedInput(cwd: string, file: string): Promise<{ input: string; records: AugmentedRecord[] }> {
  const input = resolve(cwd, file);
  if (!existsSync(input)) throw new UsageError(`--input ${input}: no such file`);
  try {
    return { input, records: await readAugmented(input) };
  } catch (e) {
    throw e instanceof AugmentDataError ? new UsageError(e.message) : e;
  }
}

/**
 * The records training can use: every one with at least one QA pair, or with `--examples passage` (which trains on
 * the text alone) every one. A "failed" record keeps the pairs that passed augment's checks (what failed is mostly
 * the rewrite): the recipe trains on them without the rewrite, so the document still gets its adapter. With the
 * local generator about half the records fail on the rewrite alone, and skipping them left those documents with no
 * adapter. Each partial or skipped record gets a line through `info`.
 */
export function trainableRecords(
  records: AugmentedRecord[],
  info: (text: string) => void,
  examples: ExampleLayout = DEFAULT_RECIPE.examples,
): AugmentedRecord[] {
  return records.filter((r) => {
    const reason = r.failureReason ?? 'no reason given';
    const usable = examples === 'passage' || r.qa.length > 0;
    if (!usable) info(`skip ${r.passageId}: no question/answer pair to train on (augmentation: ${reason})`);
    else if (r.status !== 'ok')
      info(
        examples === 'passage'
          ? `partial ${r.passageId}: augmentation failed (${reason}); training on its passage${r.rewrite ? ' and rewrite' : ''}`
          : `partial ${r.passageId}: augmentation failed (${reason}); training on its ${r.qa.length} QA pair(s)${r.rewrite ? '' : ' without a rewrite'}`,
      );
    return usable;
  });
}

/**
 * Loads the model, opens the adapter store and prepares the run (prepareTrainingRun): what the encoders need.
 * `close` releases the training session and the store.
 */
export async function openTrainingRun(
  config: Config,
  run: { storeDir: string; input: string; flags: TrainingRunFlags },
  info: (text: string) => void,
): Promise<{ encode: EncodeContext; close: () => Promise<void> }> {
  const model = await loadModel(config.model, { home: config.home });
  const fingerprint = modelFingerprint(model.config, model.source);
  const store = AdapterStore.open(run.storeDir);
  try {
    const { base, session, scope } = await prepareTrainingRun(
      store,
      model,
      { modelName: modelKeyName(model.source), fingerprint, input: run.input, threads: config.threads, flags: run.flags },
      info,
    );
    return {
      encode: { session, encoder: model.tokenizer, store, base, scope, modelFingerprint: fingerprint },
      close: async () => {
        try {
          await session.release();
        } finally {
          store.close();
        }
      },
    };
  } catch (e) {
    store.close();
    throw e;
  }
}
