export { AdamW, type AdamWOptions } from './adamw.js';
export { collate, scoredTokens, shuffled, type TrainingExample } from './batching.js';
export { type TrainMode, type TrainOptions, type TrainResult, trainAdapter } from './trainer.js';
