export { AdamW, type AdamWOptions, type AdamWState } from './adamw.js';
export { collate, scoredTokens, shuffled, type TrainingExample } from './batching.js';
export {
  computeTeacherTargets,
  type DistillExample,
  type DistillPlan,
  type DistillRecord,
  distillDivergence,
  distillExample,
  distillExamples,
  isDistillExample,
  PASSAGE_PROMPTS,
  type TeacherTargets,
  teacherBatch,
  teacherSystemPrompt,
  teacherTargets,
} from './distill.js';
export {
  type CheckpointOptions,
  DAPT_ADAPTER_ID,
  type EncodeContext,
  type EncodeOptions,
  encodeDapt,
  encodeDocuments,
  encodeGroups,
  type GroupHooks,
  type GroupOutcome,
  RecipeMismatchError,
  recordsExamples,
  reservedAdapterId,
  storedRecipe,
  type TrainingGroup,
} from './encode.js';
export { encodeDocumentsMany } from './encode-many.js';
export { type ExampleGradient, exampleGradient, type GradientExample, GradientExampleError } from './gradient.js';
export { DEFAULT_TARGETS, type InitOptions, initAdapter } from './init.js';
export { type DocumentTraining, type TrainManyOptions, type TrainManyResult, trainMany } from './many.js';
export {
  type ChatEncoder,
  type ChatMessage,
  chatExample,
  closedBookPrompt,
  contextPrompt,
  DEFAULT_RECIPE,
  DEFAULT_TOP_K,
  distills,
  EXAMPLE_LAYOUTS,
  type ExampleLayout,
  formatRecipe,
  LOSS_SPANS,
  type LossSpan,
  OBJECTIVES,
  type Objective,
  type Recipe,
  type RecipeOptions,
  type RecipeRecord,
  type RecipeResult,
  recipeExamples,
  resolveRecipe,
} from './recipe.js';
export { type TrainCheckpoint, type TrainMode, type TrainOptions, type TrainResult, trainAdapter, trainedAdapter } from './trainer.js';
export {
  BaseWeightMismatchError,
  type BaseWeightSpec,
  initBaseWeight,
  loadOrInitBaseWeight,
  NoChatTemplateError,
  openTrainingRun,
  type TrainingRun,
  type TrainingRunOptions,
} from './training-run.js';
export {
  checkWarmupOfAdapters,
  findWarmup,
  loadWarmup,
  mergeIntoWeights,
  stackWarmup,
  storedWarmup,
  trainWarmup,
  WARMUP_ADAPTER_ID,
  type WarmupAdapter,
  type WarmupIdentity,
  WarmupMismatchError,
  WarmupNotFoundError,
  type WarmupOptions,
  type WarmupOutcome,
  type WarmupPair,
} from './warmup.js';
