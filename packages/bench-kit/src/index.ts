export { gitCommit, type Machine, machine } from './machine.js';
export { type BenchRun, BUSY_LOAD_1M, BusyMachineError, type LoadRecord, type RunOptions, type RunRecord, startRun } from './run.js';
export { type BenchArgs, type BenchMainSpec, BenchUsageError, benchFlags, benchMain } from './runner.js';
export { mean, median, percentile, type Summary, summary } from './stats.js';
