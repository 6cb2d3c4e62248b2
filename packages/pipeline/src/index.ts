export type {
  AnswerDefaults,
  AnswerRequest,
  AnswerResult,
  AnswerTimings,
  ChatTurn,
  Collection,
  CollectionRecipe,
  CollectionSettings,
  DocumentInfo,
  JobState,
  JobStatus,
  JobStep,
  NewDocument,
  OpenCollectionOptions,
  RuntimeOptions,
} from './types.js';
export { JOB_STEPS } from './types.js';
