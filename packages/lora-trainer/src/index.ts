export { AdamW, type AdamWOptions, type AdamWState } from './adamw.js';
export { collate, scoredTokens, shuffled, type TrainingExample } from './batching.js';
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
  reservedAdapterId,
  type TrainingGroup,
} from './encode.js';
export { DEFAULT_TARGETS, type InitOptions, initAdapter } from './init.js';
export {
  type ChatEncoder,
  type ChatMessage,
  chatExample,
  closedBookPrompt,
  contextPrompt,
  type RecipeOptions,
  type RecipeRecord,
  type RecipeResult,
  recipeExamples,
} from './recipe.js';
export { type TrainCheckpoint, type TrainMode, type TrainOptions, type TrainResult, trainAdapter } from './trainer.js';
