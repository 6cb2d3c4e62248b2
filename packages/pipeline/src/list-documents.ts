import type { AdapterStore, DocAdapterKey } from '@rg/adapter-store';
import type { CorpusStore } from '@rg/corpus';
import { RequestError } from './errors.js';
import type { JobStore } from './jobs.js';
import { type DocumentPage, type DocumentSummary, JOB_STEPS, type ListDocumentsOptions } from './types.js';

export const DEFAULT_LIST_LIMIT = 100;

/** Steps an add job has done once its text is in the index (ingest, index). */
const INDEXED_AFTER = JOB_STEPS.indexOf('index') + 1;

/** SQLite's order of TEXT (BINARY: UTF-8 bytes, i.e. code points), which JS's `<` on UTF-16 units is not. */
function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * A page of a collection's documents in id order: the corpus store's, and those whose add job has not stored them
 * yet (a pending job's text is the newest, as `Collection.document` reports it). Each with its index and adapter state
 * from its newest add job and the adapter store.
 */
export function listDocuments(
  stores: { corpus: CorpusStore; adapters: AdapterStore; jobs: JobStore },
  scope: Omit<DocAdapterKey, 'id'>,
  options: ListDocumentsOptions = {},
): DocumentPage {
  const limit = options.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) throw new RequestError('listDocuments', 'limit', `expected a positive integer, got ${limit}`);
  const after = options.after;
  // One more than the page, to know whether more follow.
  const stored = (
    after === undefined
      ? stores.corpus.db.prepare('SELECT id, title FROM documents ORDER BY id LIMIT ?').all(limit + 1)
      : stores.corpus.db.prepare('SELECT id, title FROM documents WHERE id > ? ORDER BY id LIMIT ?').all(after, limit + 1)
  ) as Array<{ id: string; title: string }>;
  const titles = new Map(stored.map((d) => [d.id, d.title] as const));
  // Pending jobs are few (the queue); their documents are listed under their newest text's title.
  for (const job of stores.jobs.pending()) {
    if (after === undefined || byCodePoint(job.documentId, after) > 0) titles.set(job.documentId, job.document.title ?? '');
  }
  const ids = [...titles.keys()].sort(byCodePoint);
  const page = ids.slice(0, limit);
  return {
    documents: page.map((id) => summary(stores, scope, id, titles.get(id) ?? '')),
    hasMore: ids.length > limit,
  };
}

function summary(
  stores: { adapters: AdapterStore; jobs: JobStore },
  scope: Omit<DocAdapterKey, 'id'>,
  id: string,
  title: string,
): DocumentSummary {
  const job = stores.jobs.latestFor(id);
  const hasAdapter = stores.adapters.get({ ...scope, id }) !== undefined;
  let index: DocumentSummary['index'] = 'indexed';
  let adapter: DocumentSummary['adapter'] = hasAdapter ? 'ready' : 'none';
  if (job?.state === 'queued' || job?.state === 'running') {
    index = job.completed >= INDEXED_AFTER ? 'indexed' : 'pending';
    adapter = 'pending';
  } else if (job?.state === 'failed') {
    // Failed at ingest (completed 0): the stored text, if any, is the earlier one, indexed before. Failed once the
    // text was stored and before it was indexed: that text is not retrievable.
    if (job.completed > 0 && job.completed < INDEXED_AFTER) index = 'failed';
    if (!hasAdapter) adapter = 'failed';
  }
  return { id, ...(title ? { title } : {}), index, adapter, ...(job ? { jobId: job.id } : {}) };
}
