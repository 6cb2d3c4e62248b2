export { augmentCorpus, corpusPassages, readAugmentInput } from './augment-corpus.js';
export {
  type BuildIndexOptions,
  type BuildIndexSummary,
  buildIndex,
  checkIndexSettings,
  ForeignFieldsError,
  fieldsFromAugmented,
  IndexSettingsError,
} from './build-index.js';
export {
  type ClusterCorpusHooks,
  type ClusterCorpusOptions,
  type ClusterCorpusResult,
  clusterCorpus,
  type EmbedCorpusHooks,
  type EmbedCorpusOptions,
  type EmbeddingSummary,
  embedCorpus,
} from './cluster-corpus.js';
export { EMBEDDINGS_FILE, EmbeddingCache, type TextEmbedder } from './cluster-embeddings.js';
export {
  clusterReported,
  clusterSummary,
  clusterTrainReported,
  embedReported,
  formatClusterSummary,
  formatKReports,
} from './cluster-reported.js';
export {
  CLUSTERS_FILE,
  type ClusterRun,
  type ClusterSettings,
  ClusterSettingsError,
  clusterStore,
  clustersPath,
} from './cluster-store.js';
export {
  type ClusterGroup,
  clusterGroups,
  type EncodeClusterFileHooks,
  type EncodeClusterFileOptions,
  type EncodeClusterFileSummary,
  encodeClusterFile,
  encodeClusters,
  type TrainOn,
} from './cluster-train.js';
export {
  CLUSTER_KEY,
  checkVectorBackend,
  defaultVectorBackend,
  VECTOR_BACKENDS,
  type VectorBackend,
  type WriteResult,
  writeClusterIds,
} from './cluster-vectors.js';
export { openCollection } from './collection.js';
export { type Config, ConfigError, ConfigSchema, type ConfigSources, defaultConfig, loadConfig } from './config.js';
export { DEMO_STEPS, type DemoEnvironment, type DemoOptions, formatDemoReport, runDemo } from './demo.js';
export { type EncodeDaptHooks, type EncodeDaptSummary, encodeDaptFile } from './encode-dapt.js';
export {
  type EncodeFileHooks,
  type EncodeFileOptions,
  type EncodeFileSettings,
  type EncodeFileSummary,
  type EncodeProgress,
  encodeAugmentedFile,
  encodeFileOptions,
  type TrainingRunOptions,
  trainableRecords,
  withTrainingRun,
} from './encode-file.js';
export { RequestError } from './errors.js';
export { checkFilterOutput, type FilterCorpusSummary, filterCorpus } from './filter-corpus.js';
export { GENERATOR_FLAGS } from './generator-settings.js';
export { openIndex } from './index-open.js';
export { type InferenceHooks, type InferSettings, runInference } from './infer-dataset.js';
export { InferenceInputError } from './infer-errors.js';
export { type AdapterScope, adapterScopeInStore, DEFAULT_SHAPE, type ScopeShape, shapeOrDefaults } from './infer-scope.js';
export {
  type AdapterFolder,
  checkAdapterFolders,
  contextRoom,
  encodePrompt,
  openPromptSession,
  type PromptInput,
  PromptInputError,
  type PromptSession,
  type PromptSessionOptions,
  readAdapterFolders,
} from './prompt-session.js';
export {
  augmentReported,
  daptReported,
  encodeReported,
  indexReported,
  inferReported,
  ingestReported,
  minutes,
  NO_PROGRESS,
  type Progress,
  type Reporter,
  type RunEnvironment,
  SILENT,
  type StepCounter,
  StepInputError,
  type SummaryOutput,
  stepCounter,
} from './reported.js';
export { RequestGate } from './request-gate.js';
export { loadRuntime } from './runtime.js';
export { COLLECTION_METHODS, CollectionSettingsError, defaultCompose, defaultSettings, SETTINGS_FILE } from './settings.js';
export {
  checkEncodeSettings,
  checkObjectiveSettings,
  type EncodeRunSettings,
  OBJECTIVE_FLAGS,
  RECIPE_FLAGS,
  recipeFlags,
  SHAPE_FLAGS,
  type TrainerSettings,
  TrainerSettingsError,
  trainerOptions,
  trainerRecipe,
} from './training-settings.js';
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
  DocumentPage,
  DocumentSummary,
  JobState,
  JobStatus,
  JobStep,
  ListDocumentsOptions,
  ModelRuntime,
  NewDocument,
  OpenCollectionOptions,
  RuntimeOptions,
  WarmResult,
} from './types.js';
export { JOB_STEPS } from './types.js';
export {
  trainWarmupAdapter,
  type WarmupAdapterHooks,
  type WarmupAdapterOptions,
  type WarmupAdapterSummary,
} from './warmup-adapter.js';
export {
  defaultWarmupSplit,
  type WarmupPairs,
  type WarmupPairsOptions,
  WarmupSplitError,
  warmupPair,
  warmupPairs,
} from './warmup-pairs.js';
export { type WarmupRequest, warmupReported } from './warmup-reported.js';
