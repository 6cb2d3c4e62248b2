export { passageText, SqliteVecRetriever } from './dense/sqlite-vec.js';
export { HybridRetriever, reciprocalRankFusion } from './hybrid/rrf.js';
export { BACKENDS, type BackendName, commitBuild, IndexMissingError, indexFiles, type OpenOptions, openRetriever } from './open.js';
export { FTS5_TOKENIZE, SqliteBm25Retriever } from './sqlite/bm25.js';
export type { Document, Embedder, Metadata, MetadataValue, Retriever, SearchHit, SearchOptions } from './types.js';
