export {
  CLUSTER_BENCH_DEFAULTS,
  type ClusterBenchOptions,
  type ClusterBenchResult,
  type ClusterFigures,
  clusterBench,
} from './cluster.js';
export { CHEMPROT_CORPUS_FILE, type CorpusInput, chemprotCorpusFile, corpusInput, writeNeededDocuments } from './e2e-corpus.js';
export { type E2eResults, e2eFigures } from './e2e-figures.js';
export { type E2eRunResult, type E2eRunSettings, runE2e } from './e2e-run.js';
export { E2E_BENCH } from './e2e-spec.js';
export { answerColumns, type E2eEnvironment, type E2eInputs, e2eStepCount, trainColumns } from './e2e-steps.js';
export {
  type Column,
  type ColumnCosts,
  type ColumnStats,
  columnCosts,
  columnsChart,
  markdownTable,
  questionScores,
  type RetrievalHits,
  retrievalHits,
  type TableRun,
  withIntervals,
} from './e2e-table.js';
export { type E2eAnswers, type E2eColumns, type E2eSettings, NO_DAPT } from './e2e-types.js';
export { BenchInputError } from './errors.js';
export {
  type BackendFigures,
  type EmbeddedBackend,
  RETRIEVE_BENCH_DEFAULTS,
  RETRIEVE_DATASET_FILES,
  type RetrieveBenchOptions,
  type RetrieveBenchResult,
  retrieveBench,
  retrievePeer,
  TAGGED_BACKENDS,
  type TagFigures,
} from './retrieve.js';
export { type BenchQuestion, KS, measure, type RecallFigures } from './retrieve-recall.js';
export type { AnnFigures, AnnScaleRow, AnnScaling, ScaleRow } from './retrieve-scale.js';
export { CLUSTER_BENCH, RETRIEVE_BENCH } from './spec.js';
