export { openCollection } from './collection.js';
export { loadRuntime } from './runtime.js';
export { COLLECTION_METHODS, CollectionSettingsError, defaultSettings, SETTINGS_FILE } from './settings.js';
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
  ModelRuntime,
  NewDocument,
  OpenCollectionOptions,
  RuntimeOptions,
} from './types.js';
export { JOB_STEPS } from './types.js';
