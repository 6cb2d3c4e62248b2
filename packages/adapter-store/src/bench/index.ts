export { STORE_BENCH_DEFAULTS, type StoreBenchOptions, type StoreBenchResult, storeBench } from './store.js';
