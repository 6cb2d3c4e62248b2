import type { Document as CorpusDocument, Metadata, MetadataValue } from '@rg/corpus';

export type { Metadata, MetadataValue };

/**
 * A corpus document as a retriever indexes it: the stored passage plus optional retrieval-only fields. Lexical
 * backends (sqlite, elasticsearch) index `tags` and `description` as fields of their own with their own weights;
 * the vector backends embed title and text only. Neither field changes the passage a prompt is given.
 */
export interface Document extends CorpusDocument {
  /** Topic and entity tags, e.g. an augmenter's (`AugmentedRecord.tags`). */
  tags?: string[];
  /** A sentence or two saying what the passage is about (`AugmentedRecord.description`). */
  description?: string;
}

export interface SearchOptions {
  /** How many hits to return at most. */
  k: number;
  /** Only documents whose metadata has every one of these key/value pairs. */
  filter?: Metadata;
}

export interface SearchHit {
  id: string;
  /** Higher is better; comparable only within one backend and one query. */
  score: number;
}

/**
 * What every retrieval backend implements. Backends hide their clients: nothing here names
 * SQLite, Elasticsearch or Qdrant types, so callers can swap one for another.
 */
export interface Retriever {
  readonly backend: string;
  /** Add or replace documents (by id). */
  add(docs: Document[]): Promise<void>;
  delete(ids: string[]): Promise<void>;
  search(query: string, opts: SearchOptions): Promise<SearchHit[]>;
  /** One result list per query, in order. */
  searchBatch(queries: string[], opts: SearchOptions): Promise<SearchHit[][]>;
  count(): Promise<number>;
  close(): Promise<void>;
}

/** Turns texts into unit-length vectors (cosine similarity = dot product). */
export interface Embedder {
  readonly dim: number;
  embed(texts: string[]): Promise<Float32Array[]>;
  /** Free the model (called by a retriever that was handed ownership). */
  close?(): Promise<void>;
}
