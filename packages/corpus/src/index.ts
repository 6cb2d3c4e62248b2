export { type ChunkOptions, chunkDocument } from './chunk.js';
export {
  BadRecordError,
  type FieldNames,
  formatFromPath,
  INPUT_FORMATS,
  type InputFormat,
  type Question,
  questionFromJsonLine,
} from './formats.js';
export { type BadRecord, IngestError, type IngestOptions, type IngestProgress, type IngestSummary, ingest } from './ingest.js';
export { type QuestionOrError, readQuestions } from './questions.js';
export { readLines } from './read.js';
export {
  type AddResult,
  type Checkpoint,
  CorpusStore,
  contentHash,
  type Document,
  type FileIdentity,
  type Metadata,
  type MetadataValue,
  type ReplaceRun,
  STORE_FILE,
  type StoredDocument,
  StoreOpenError,
} from './store.js';
