import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type AugmentedRecord, readAugmented } from '@rg/augment';
import type { LoraTarget } from '@rg/engine';
import {
  BaseWeightMismatchError,
  DEFAULT_TARGETS,
  type Objective,
  RecipeMismatchError,
  WarmupMismatchError,
  WarmupNotFoundError,
} from '@rg/lora-trainer';
import { RECIPE_FLAGS, SHAPE_FLAGS, type TrainerSettings } from '@rg/pipeline';
import { type Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import { addTypedFlags } from '../flags.js';
import { nonNegativeInt, positiveInt } from '../parse.js';
import { targetList } from './common.js';

export interface TrainingRunFlags {
  rank: number;
  alpha: number;
  targets: LoraTarget[];
  seed: number;
  lr: number;
  epochs: number;
  dataset?: string;
  /** rg encode --docs-per-pass: above 1, the session trains that many documents' adapters per pass. */
  docsPerPass?: number;
  /** rg encode --warmup: train on top of the stored warm-up adapter of the model and dataset segment. */
  warmup?: boolean;
  /** rg encode --objective: distill and both load the teacher and build the training graph with soft targets. */
  objective?: Objective;
  /** --gradient-checkpointing: layers recomputed in the backward pass (less memory, slower steps, same adapters). */
  gradientCheckpointing?: boolean;
}

/** rg encode's and rg cluster train's training flags: @rg/pipeline's TrainerSettings plus the run's own. */
export interface TrainerFlags extends TrainingRunFlags, TrainerSettings {}

/** The training flags rg encode and rg cluster train share: @rg/pipeline's shape and recipe flags, and the run's own. */
export function addTrainerOptions(command: Command): Command {
  addTypedFlags(command, SHAPE_FLAGS)
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
    .option(
      '--gradient-checkpointing',
      'recompute each layer in the backward pass instead of keeping its activations: a third of the memory for long examples (a 1,024-token step of SmolLM2-135M: 6.7 -> 2.1 GB), slower steps, the same adapters',
    );
  return addTypedFlags(command, RECIPE_FLAGS);
}

/**
 * Stored adapters of another recipe (RecipeMismatchError) are the user's to sort out: a usage error, with the flags
 * that keep both (`hint`, e.g. "--store DIR or --dataset NAME").
 */
function recipeMismatchAsUsage(hint: string): (e: unknown) => never {
  return (e) => {
    throw e instanceof RecipeMismatchError || e instanceof WarmupMismatchError ? new UsageError(`${e.message} (${hint})`) : e;
  };
}

/**
 * The trainer's errors a user fixes with flags (@rg/pipeline's encoders let them through) as usage errors (exit 2):
 * another recipe or warm-up stored (`hint`: the flags that keep both), another base_weight, no warm-up, no chat
 * template, a malformed augmented file.
 */
export function trainingErrorsAsUsage(hint: string): (e: unknown) => never {
  return (e) => {
    if (e instanceof BaseWeightMismatchError) throw baseWeightUsage(e);
    if (e instanceof WarmupNotFoundError) throw new UsageError(`--warmup: ${e.message}`);
    return recipeMismatchAsUsage(hint)(e);
  };
}

function baseWeightUsage(e: BaseWeightMismatchError): UsageError {
  return new UsageError(
    `--targets ${e.requested.join(',')}: the stored base_weight targets ${e.stored.join(',')} (rg adapter init with other targets, or another --store)`,
  );
}

/** The augmented records of --input (rg augment output); a missing or malformed file is a usage error naming it. */
export async function readAugmentedInput(cwd: string, file: string): Promise<{ input: string; records: AugmentedRecord[] }> {
  const input = resolve(cwd, file);
  if (!existsSync(input)) throw new UsageError(`--input ${input}: no such file`);
  return { input, records: await readAugmented(input) };
}
