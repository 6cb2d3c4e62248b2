export { passageText, type SqliteVecOptions, SqliteVecRetriever } from './dense/sqlite-vec.js';
export {
  DEFAULT_FIELD_WEIGHTS,
  FIELD_NAMES,
  type FieldName,
  type FieldWeights,
  parseFieldWeights,
  resolveFieldWeights,
} from './fields.js';
export { checkFilterKeys } from './filter.js';
export { FILTER_OVERFETCH, HNSW_DEFAULTS, type HnswParams, HnswRetriever } from './hnsw/hnsw.js';
export { HybridRetriever, reciprocalRankFusion } from './hybrid/rrf.js';
export {
  abortBuild,
  BACKENDS,
  type BackendName,
  commitBuild,
  EMBEDDED_BACKENDS,
  FIELD_BACKENDS,
  IndexMissingError,
  indexFiles,
  knownBackends,
  type OpenOptions,
  openRetriever,
  registerRetrieverBackend,
  SERVER_BACKENDS,
  serverIndexName,
  serverUrl,
} from './open.js';
export { type BackendPlugin, type PluginOpenOptions, pluginBackends, unregisterBackend } from './registry.js';
export {
  BackendUnavailableError,
  probeServer,
  REMOTE_DEFAULTS,
  REMOTE_ENV,
  type RemoteBackend,
  type RemoteOptions,
  type RemoteTarget,
  remoteCall,
  remoteOptionsFromEnv,
  resolveRemote,
} from './remote.js';
export { FTS5_TOKENIZE, SqliteBm25Retriever } from './sqlite/bm25.js';
export { type IndexStamp, readIndexStamp, staleIndexReason, writeIndexStamp } from './stamp.js';
export type { Document, Embedder, Metadata, MetadataValue, Retriever, SearchHit, SearchOptions } from './types.js';
