import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdapterStore, DocAdapterKey } from '@rg/adapter-store';
import { CorpusStore } from '@rg/corpus';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCollection } from './collection.js';
import { RequestError } from './errors.js';
import { JobStore } from './jobs.js';
import { listDocuments } from './list-documents.js';
import { DOCUMENTS, FAST, tinyRuntime } from './test-helpers/fixtures.js';
import type { DocumentSummary } from './types.js';

const scope = { model: 'm', rank: 2, alpha: 32, dataset: 'd', lr: 1e-3, epochs: 1 };

describe('listDocuments over the stores', () => {
  let dir: string;
  let corpus: CorpusStore;
  let jobs: JobStore;
  const adapted = new Set<string>();
  // Only `get` is read: whether a document has an adapter under the scope.
  const adapters = { get: (key: DocAdapterKey) => (adapted.has(key.id) ? {} : undefined) } as unknown as AdapterStore;
  const list = (options?: Parameters<typeof listDocuments>[2]) => listDocuments({ corpus, adapters, jobs }, scope, options);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rg-pipeline-list-'));
    corpus = CorpusStore.open(join(dir, 'corpus'));
    jobs = new JobStore(dir);
    adapted.clear();
  });
  afterEach(() => {
    corpus.close();
    jobs.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A job through `completed` steps, then ended in `state` (or left running). */
  function jobFor(id: string, text: string, completed: number, state?: 'done' | 'failed'): string {
    const job = jobs.add({ id, text });
    const claimed = jobs.claim();
    expect(claimed?.id).toBe(job.id);
    jobs.finishStep(job.id, completed);
    if (state) jobs.finish(job.id, state, state === 'failed' ? 'boom' : undefined);
    return job.id;
  }

  it('pages by id in code point order, with has-more, the stored and the pending together', () => {
    corpus.add([
      { id: 'b', text: 'bee', title: 'B' },
      { id: 'd', text: 'dee' },
      // U+FF21 sorts before U+1F600 by code point, after it by UTF-16 unit: SQLite's order is the first.
      { id: '\uff21', text: 'fullwidth A' },
      { id: '\u{1f600}', text: 'smile' },
    ]);
    adapted.add('b');
    adapted.add('d');
    // Pending, not stored yet: listed between the stored ones, under their job's title.
    jobs.add({ id: 'a', text: 'ay', title: 'A' });
    jobs.add({ id: 'c', text: 'cee' });
    const all = list();
    expect(all.hasMore).toBe(false);
    expect(all.documents.map((d) => d.id)).toEqual(['a', 'b', 'c', 'd', '\uff21', '\u{1f600}']);
    expect(all.documents[0]).toMatchObject({ id: 'a', title: 'A', index: 'pending', adapter: 'pending' });
    expect(all.documents[0].jobId).toBeDefined();
    expect(all.documents[1]).toEqual({ id: 'b', title: 'B', index: 'indexed', adapter: 'ready' });
    expect(all.documents[4]).toEqual({ id: '\uff21', index: 'indexed', adapter: 'none' });

    const pages: string[][] = [];
    let after: string | undefined;
    for (;;) {
      const page = list({ limit: 2, after });
      pages.push(page.documents.map((d) => d.id));
      if (!page.hasMore) break;
      after = page.documents.at(-1)?.id;
    }
    expect(pages).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['\uff21', '\u{1f600}'],
    ]);
    expect(list({ after: '\u{1f600}' })).toEqual({ documents: [], hasMore: false });
    // An id that is not there is a place in the order all the same.
    expect(list({ after: 'bb', limit: 1 })).toMatchObject({ documents: [{ id: 'c' }], hasMore: true });
  });

  it('states from the newest add job: indexed once its index step is done, failed where it stopped', () => {
    const cases: Array<[string, number, 'done' | 'failed' | undefined, boolean, Pick<DocumentSummary, 'index' | 'adapter'>]> = [
      // id, steps done, end, adapter stored, expected
      ['ingested', 1, undefined, false, { index: 'pending', adapter: 'pending' }],
      ['indexed', 2, undefined, false, { index: 'indexed', adapter: 'pending' }],
      ['done', 4, 'done', true, { index: 'indexed', adapter: 'ready' }],
      ['index-failed', 1, 'failed', false, { index: 'failed', adapter: 'failed' }],
      ['encode-failed', 3, 'failed', false, { index: 'indexed', adapter: 'failed' }],
      // Failed at ingest with a text stored before: that one stays, indexed, with its adapter.
      ['ingest-failed', 0, 'failed', true, { index: 'indexed', adapter: 'ready' }],
    ];
    for (const [id, completed, end, adapter] of cases) {
      corpus.add([{ id, text: `text of ${id}` }]);
      if (adapter) adapted.add(id);
      jobFor(id, `text of ${id}`, completed, end);
    }
    const byId = new Map(list().documents.map((d) => [d.id, d] as const));
    for (const [id, , , , expected] of cases) expect(byId.get(id), id).toMatchObject(expected);
  });

  it('leaves out a document whose only job failed before storing it', () => {
    jobFor('never', 'never stored', 0, 'failed');
    expect(list().documents).toEqual([]);
  });

  it('refuses a limit that is not a positive integer, naming it', () => {
    for (const limit of [0, -1, 1.5]) {
      expect(() => list({ limit })).toThrow(RequestError);
      expect(() => list({ limit })).toThrow(`listDocuments: limit: expected a positive integer, got ${limit}`);
    }
  });
});

describe('Collection.listDocuments', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await cleanup?.();
  });

  it('lists documents added and not yet stored as pending, then indexed with their adapters once the jobs ran', async () => {
    const t = await tinyRuntime('list');
    cleanup = t.cleanup;
    const folder = join(t.dir, 'facts');
    const docs = DOCUMENTS.slice(0, 2);
    // Jobs recorded, none run.
    const idle = await openCollection(folder, t.runtime, { create: FAST, runJobs: false });
    const jobIds = docs.map((d) => idle.addDocument(d).jobId);
    expect(idle.listDocuments()).toEqual({
      documents: [
        { id: 'festival', index: 'pending', adapter: 'pending', jobId: jobIds[1] },
        { id: 'lighthouse', title: 'Varnholm', index: 'pending', adapter: 'pending', jobId: jobIds[0] },
      ],
      hasMore: false,
    });
    await idle.close();
    expect(() => idle.listDocuments()).toThrow('is closed');

    const live = await openCollection(folder, t.runtime);
    try {
      await live.whenIdle();
      expect(live.listDocuments({ limit: 1 })).toEqual({
        documents: [{ id: 'festival', index: 'indexed', adapter: 'ready', jobId: jobIds[1] }],
        hasMore: true,
      });
      expect(live.listDocuments({ after: 'festival' })).toEqual({
        documents: [{ id: 'lighthouse', title: 'Varnholm', index: 'indexed', adapter: 'ready', jobId: jobIds[0] }],
        hasMore: false,
      });
      expect(await live.deleteDocument('festival')).toBe(true);
      expect(live.listDocuments().documents.map((d) => d.id)).toEqual(['lighthouse']);
    } finally {
      await live.close();
    }
  }, 120_000);
});
