import type { Flag } from '@rg/bench-kit';
import type { EncodeOptions, ExampleLayout, LossSpan, Objective, Recipe, TrainMode } from '@rg/lora-trainer';
import { DEFAULT_RECIPE, distills, EXAMPLE_LAYOUTS, LOSS_SPANS, OBJECTIVES, resolveRecipe } from '@rg/lora-trainer';
import { DEFAULT_SHAPE } from './infer-scope.js';

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

/** Trainer settings that do not go together, named as rg encode's flags: the caller's to fix. */
export class TrainerSettingsError extends Error {
  override name = 'TrainerSettingsError';
}

/** The objective's own settings given without the objective they tune (they would be ignored): refused. */
export function checkObjectiveSettings(s: Pick<TrainerSettings, 'objective' | 'distillTopk' | 'distillWeight'>): void {
  if (!distills(s.objective) && s.distillTopk !== undefined)
    throw new TrainerSettingsError('--distill-topk: only with --objective distill or both');
  if (s.objective !== 'both' && s.distillWeight !== undefined)
    throw new TrainerSettingsError('--distill-weight: only with --objective both');
}

/** How an encode run spreads its work (rg encode's and rg cluster train's flags beside the trainer settings). */
export interface EncodeRunSettings {
  /** Above 1: that many passages' adapters per pass. */
  docsPerPass?: number;
  /** One adapter on every passage (the DAPT baseline). */
  dapt?: boolean;
  /** Trained on top of the stored warm-up adapter. */
  warmup?: boolean;
  /** Through a Redis queue of workers (@rg/encode-queue). */
  queue?: string;
}

/**
 * Settings of an encode run that do not go together, refused before any work (each would otherwise be ignored or fail
 * deep in a run): the objective's own checks, and which ways of spreading the work the distillation objective, DAPT
 * and the queue's workers take.
 */
export function checkEncodeSettings(s: Pick<TrainerSettings, 'objective' | 'distillTopk' | 'distillWeight'> & EncodeRunSettings): void {
  checkObjectiveSettings(s);
  const distilling = distills(s.objective);
  const fail = (text: string) => {
    throw new TrainerSettingsError(text);
  };
  const many = (s.docsPerPass ?? 1) > 1;
  if (distilling && many) fail(`--docs-per-pass: --objective ${s.objective} trains one passage per pass`);
  if (s.dapt && many) fail('--docs-per-pass: --dapt trains one adapter, not one per passage');
  if (!s.queue) return;
  if (distilling) fail('--queue: the queue workers train --objective lm only');
  if (s.dapt) fail('--queue: --dapt trains one adapter, which gains nothing from a queue (run it without --queue)');
  if (many) fail('--queue: --docs-per-pass applies to one process; each worker trains one passage per job');
  if (s.warmup) fail('--warmup: the queue workers train on the base model alone; encode without --queue to stack the warm-up');
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

/**
 * The adapter's shape and schedule as flags (rg encode, rg cluster train, the e2e table): the defaults are those rg
 * infer falls back to when the store cannot tell (DEFAULT_SHAPE), so the two cannot drift apart.
 */
export const SHAPE_FLAGS: readonly Flag[] = [
  { name: 'rank', kind: 'int', value: '<r>', help: 'LoRA rank', default: DEFAULT_SHAPE.rank },
  { name: 'alpha', kind: 'number', value: '<a>', help: 'LoRA alpha', default: DEFAULT_SHAPE.alpha },
  { name: 'lr', kind: 'number', value: '<lr>', help: 'AdamW learning rate', default: DEFAULT_SHAPE.lr },
  { name: 'epochs', kind: 'int', help: 'epochs over each adapter’s examples', default: DEFAULT_SHAPE.epochs },
];

/** What the adapters are trained on and to do (the recipe) as flags: rg encode's, rg cluster train's, the e2e table's. */
export const RECIPE_FLAGS: readonly Flag[] = [
  {
    name: 'examples',
    kind: 'choice',
    value: '<layout>',
    choices: EXAMPLE_LAYOUTS,
    default: DEFAULT_RECIPE.examples,
    help: 'qa: QA pairs, half with the passage or rewrite in the prompt (seeded); prag: PRAG’s layout (first ceil(N/2) pairs with passage and rewrite, the rest closed-book); passage: continued pretraining on the passage and rewrite text',
  },
  {
    name: 'loss',
    kind: 'choice',
    value: '<span>',
    choices: LOSS_SPANS,
    default: DEFAULT_RECIPE.loss,
    help: 'tokens the loss covers: answer (the assistant turn) or all (every token; passage always)',
  },
];

/** The training objective as flags (rg encode, the e2e table). */
export const OBJECTIVE_FLAGS: readonly Flag[] = [
  {
    name: 'objective',
    kind: 'choice',
    value: '<objective>',
    choices: OBJECTIVES,
    default: 'lm',
    help: 'lm: next-token loss on the --examples layout; distill: match the base model that reads the passage (KL on its top-k at each answer position, the student without the passage); both: lm + --distill-weight × distill',
  },
  {
    name: 'distill-topk',
    kind: 'int',
    value: '<k>',
    help: 'teacher tokens kept per answer position (--objective distill|both; default 16)',
  },
  { name: 'distill-weight', kind: 'number', value: '<w>', help: 'λ in loss = lm + λ × distill (--objective both; default 1)' },
];
