export { STORE_BENCH } from './spec.js';
export { STORE_BENCH_DEFAULTS, type StoreBenchOptions, type StoreBenchResult, storeBench } from './store.js';
