export {
  type Flag,
  FlagError,
  type FlagKind,
  type FlagValues,
  flagHelp,
  flagOptions,
  flagSyntax,
  flagsUsage,
  parseArgsOptions,
  parseFlags,
} from './flags.js';
export { gitCommit, type Machine, machine } from './machine.js';
export { type BenchRun, BUSY_LOAD_1M, BusyMachineError, type LoadRecord, type RunOptions, type RunRecord, startRun } from './run.js';
export { type BenchArgs, type BenchHost, type BenchMainOptions, benchArgs, benchMain, isBenchUsageError } from './runner.js';
export { type BenchSpec, BenchUsageError } from './spec.js';
export { mean, median, percentile, type Summary, summary } from './stats.js';
