export { type BuildAppOptions, buildApp, type RgApp } from './app.js';
export { ArgsError, parseServerArgs, SERVER_FLAGS, startOptions, USAGE } from './args.js';
export { batchedGenerate, DEFAULT_BATCH } from './batching.js';
export { DEFAULT_SERVER_OPTIONS, LOG_LEVELS, type LogLevel, MODEL_PREFIX, type ServedCollections, type ServerOptions } from './deps.js';
export { currentGc, type GcMode, SINGLE_THREADED_GC } from './gc.js';
export {
  DEFAULT_PORT,
  defaultCollectionDir,
  type ListenOptions,
  listen,
  type RunningServer,
  type SignalSource,
  type StartOptions,
  startServer,
  untilSignal,
} from './start.js';
