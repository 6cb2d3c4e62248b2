export {
  connectRedis,
  DEFAULT_QUEUE_NAME,
  DEFAULT_QUEUE_PREFIX,
  parseQueueUrl,
  type QueueTarget,
  QueueUnreachableError,
  QueueUrlError,
} from './connection.js';
export { type CoordinateOptions, type CoordinateReporter, type CoordinateSummary, coordinateReported } from './coordinate.js';
export {
  type CoordinatorOptions,
  type CoordinatorSummary,
  documentGroups,
  type QueueOutcome,
  type QueueProgress,
  runCoordinator,
} from './coordinator.js';
export { type BaseWeightRef, type EncodeJobData, type EncodeJobResult, JOB_FORMAT, jobIdOf } from './job.js';
export { type SuperviseOptions, superviseWorkers, WorkerStartError } from './supervise.js';
export {
  DEFAULT_LOCK_SETTINGS,
  type EncodeWorker,
  type EncodeWorkerOptions,
  JobMismatchError,
  type LockSettings,
  runEncodeWorker,
  startEncodeWorker,
  type WorkerHooks,
  type WorkerRun,
  type WorkerRunSummary,
} from './worker.js';
