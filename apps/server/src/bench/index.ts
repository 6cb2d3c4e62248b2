export { type AddResult, type AddRun, popqaDocument } from './add.js';
export type { BatchingResult, BatchRun } from './batching.js';
export type { BenchDocument } from './http.js';
export {
  type LoadLevel,
  readDemo,
  SERVE_BENCH_DEFAULTS,
  SERVE_BENCH_PARTS,
  type ServeBenchOptions,
  type ServeBenchPart,
  type ServeBenchResult,
  serveBench,
} from './serve.js';
