export { type Answer, type AnswerCall, type Answerer, type AnswerStepTimings, createAnswerer, type Question } from './answerer.js';
export { type ChartRow, escapeXml, type IntervalChartOptions, intervalChartSvg } from './chart.js';
export { CHEMPROT_LABELS, chemprotCorpus, loadChemProt, removeChemProtMarks } from './datasets/chemprot.js';
export { DatasetError } from './datasets/errors.js';
export { loadJsonlCorpus, loadJsonlQa } from './datasets/jsonl.js';
export { loadPopQa } from './datasets/popqa.js';
export { loadPubMedQa, PUBMEDQA_LABELS } from './datasets/pubmedqa.js';
export { DATASET_NAMES, DATASET_SPLITS, loadDataset } from './datasets/registry.js';
export { POPQA_SPLIT, seededSplit, shuffledIndices } from './datasets/split.js';
export type { CorpusDocument, Dataset, PrimaryMetric, QaExample } from './datasets/types.js';
export { type ChatTokenizer, type EngineAnswerModelOptions, engineAnswerModel, type GenerateFn } from './engine-model.js';
export { evaluate, formatMetrics, type Metrics } from './evaluate.js';
export {
  type AnswerOptions,
  COMPOSE_MODES,
  COMPOSING_METHODS,
  type ComposeMode,
  checkDeps,
  compositionWeights,
  effectiveCompose,
  isMethod,
  METHODS,
  type Method,
  type MethodDeps,
  scaledWeights,
} from './methods.js';
export { accuracy, answerInOutput, exactMatch, macroF1, mean, normalizeAnswer, tokenF1 } from './metrics.js';
export type {
  AdapterSource,
  AnswerModel,
  ChatMessage,
  ClusterRouter,
  Completion,
  CompletionRequest,
  ComposeAdapters,
  DocumentSource,
  PassageRetriever,
  RetrievedHit,
} from './model.js';
export { pathSegment, type RunCoordinates, runDir, writeFileAtomic } from './output.js';
export { answerQuestion, type Prediction } from './predict.js';
export { buildMessages, PROMPT_VERSION, passagesInstruction } from './prompts.js';
export {
  composedFolder,
  type MethodOutcome,
  type MethodsRunOptions,
  type RunOptions,
  type RunResult,
  runMethod,
  runMethods,
  sampleExamples,
} from './run.js';
export { chooseLabel, type LabelChoice } from './scoring.js';
export {
  BOOTSTRAP_RESAMPLES,
  type BootstrapOptions,
  bootstrapMean,
  type Interval,
  pairedBootstrapDifference,
} from './stats.js';
export { loadDaptAdapter, NotDaptAdapterError, storeAdapterSource } from './store-adapters.js';
