export { gitCommit, type Machine, machine } from './machine.js';
export { type BenchRun, BUSY_LOAD_1M, BusyMachineError, type LoadRecord, type RunOptions, type RunRecord, startRun } from './run.js';
export { type BenchArgs, type BenchHost, type BenchMainOptions, benchArgs, benchMain, isBenchUsageError } from './runner.js';
export {
  type BenchFlag,
  type BenchFlagKind,
  type BenchSpec,
  BenchUsageError,
  type FlagValues,
  flagHelp,
  flagSyntax,
  parseBenchFlags,
} from './spec.js';
export { mean, median, percentile, type Summary, summary } from './stats.js';
