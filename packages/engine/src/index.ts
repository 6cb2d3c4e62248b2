export { type Dim, DType, type DTypeName, GraphBuilder, type TensorInit } from './graph/builder.js';
export {
  buildTrainingGraph,
  loraGradName,
  loraInputName,
  TRAIN_IO,
  type TrainingGraph,
  type TrainingGraphOptions,
  type TrainingModule,
} from './train/graph.js';
export type { FloatType } from './train/ops.js';
export {
  type LoraParams,
  type StepResult,
  type TrainingBatch,
  TrainingSession,
  type TrainingSessionOptions,
} from './train/session.js';
export { randomLlamaWeights, tinyLlamaConfig } from './train/tiny-model.js';
