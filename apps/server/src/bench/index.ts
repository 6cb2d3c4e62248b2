export { type AddResult, type AddRun, popqaDocument } from './add.js';
export type { BatchingResult, BatchRun } from './batching.js';
export type { CacheSplit, LoadLevel } from './figures.js';
export type { BenchDocument } from './http.js';
export {
  readDemo,
  SERVE_BENCH_DEFAULTS,
  SERVE_BENCH_PARTS,
  type ServeBenchOptions,
  type ServeBenchPart,
  type ServeBenchResult,
  serveBench,
} from './serve.js';
export { SERVE_BENCH } from './spec.js';
