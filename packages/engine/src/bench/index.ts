// `@rg/engine/bench`: the engine's benchmarks as functions (`rg bench generate`, `rg bench adapter-dtype` and the
// `bench` target call them) and the helpers that run their peers. main.ts, the target's runner, stays out: it runs.
export {
  ADAPTER_DTYPE_BENCH_DEFAULTS,
  type AdapterDtypeBenchOptions,
  type AdapterDtypeBenchResult,
  adapterDtypeBench,
  type LogitsChange,
} from './adapter-dtype.js';
export {
  GENERATE_BENCH_DEFAULTS,
  type GenerateBenchOptions,
  type GenerateBenchResult,
  type GenerateTiming,
  type GenerateWorkload,
  generateBench,
  type PeerGenerateTiming,
} from './generate.js';
export {
  type BatchFigures,
  type ConcurrentFigures,
  type GenerateBatchBenchOptions,
  type GenerateBatchBenchResult,
  generateBatchBench,
  type ServingFigures,
} from './generate-batch.js';
export { checkGgufForPeer, checkPeerScript, checkPythonPeer, PeerSetupError, type PythonPeer, runPeer } from './peer.js';
export { ADAPTER_DTYPE_BENCH, GENERATE_BENCH } from './spec.js';
