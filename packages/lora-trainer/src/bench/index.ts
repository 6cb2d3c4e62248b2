// `@rg/lora-trainer/bench`: the training benchmark as a function (`rg bench train` and the `bench` target call it).
// main.ts, the target's runner, stays out: it runs.
export { TRAIN_BENCH } from './spec.js';
export { type PeerTrainFigures, TRAIN_BENCH_DEFAULTS, type TrainBenchOptions, type TrainBenchResult, trainBench } from './train.js';
