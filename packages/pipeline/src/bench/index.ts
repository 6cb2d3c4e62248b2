export {
  CLUSTER_BENCH_DEFAULTS,
  type ClusterBenchOptions,
  type ClusterBenchResult,
  type ClusterFigures,
  clusterBench,
} from './cluster.js';
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
