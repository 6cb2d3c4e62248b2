import type { EncodeOptions, ExampleLayout, LossSpan, Objective, Recipe, TrainMode } from '@rg/lora-trainer';
import { resolveRecipe } from '@rg/lora-trainer';

/** How adapters are trained, as a person sets it (rg encode's and rg cluster train's flags, the e2e table's settings). */
export interface TrainerSettings {
  mode: TrainMode;
  lr: number;
  epochs: number;
  batchSize: number;
  gradAccumulation: number;
  seed: number;
  /** Training examples longer than this are left out. */
  maxTokens: number;
  examples: ExampleLayout;
  loss: LossSpan;
  objective?: Objective;
  /** With objective distill or both: the teacher's top-k and (both) the distillation term's weight. */
  distillTopk?: number;
  distillWeight?: number;
}

/** The trainer's options (@rg/lora-trainer EncodeOptions) from the settings. */
export function trainerOptions(s: TrainerSettings): EncodeOptions {
  return {
    mode: s.mode,
    lr: s.lr,
    epochs: s.epochs,
    batchSize: s.batchSize,
    gradAccumulation: s.gradAccumulation,
    seed: s.seed,
    maxTokens: s.maxTokens,
    recipe: recipeOf(s),
  };
}

function recipeOf(s: TrainerSettings): Partial<Recipe> {
  return { examples: s.examples, loss: s.loss, objective: s.objective, topK: s.distillTopk, distillWeight: s.distillWeight };
}

/** The recipe the adapters are trained with (as recorded with them). */
export function trainerRecipe(s: TrainerSettings): Recipe {
  return resolveRecipe(recipeOf(s));
}

/**
 * The recipe as rg encode's flags name it ("--examples passage --loss all --objective both ..."): how a run of many
 * steps says what its encode steps train. The objective's flags only where it is not plain lm.
 */
export function recipeFlags(s: Pick<TrainerSettings, 'examples' | 'loss' | 'objective' | 'distillTopk' | 'distillWeight'>): string {
  const flags = ['--examples', s.examples, '--loss', s.loss];
  if (s.objective && s.objective !== 'lm') {
    flags.push('--objective', s.objective);
    if (s.distillTopk !== undefined) flags.push('--distill-topk', String(s.distillTopk));
    if (s.objective === 'both' && s.distillWeight !== undefined) flags.push('--distill-weight', String(s.distillWeight));
  }
  return flags.join(' ');
}
