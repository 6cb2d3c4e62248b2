import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCollection } from './collection.js';
import { RequestError } from './errors.js';
import { DOCUMENTS, FAST, QUESTIONS, tinyRuntime } from './test-helpers/fixtures.js';
import type { AnswerResult, Collection, ModelRuntime } from './types.js';

let dir: string;
let runtime: ModelRuntime;
let cleanup: () => Promise<void>;
let collection: Collection;
const jobIds: string[] = [];

beforeAll(async () => {
  ({ dir, runtime, cleanup } = await tinyRuntime('collection'));
  collection = await openCollection(join(dir, 'facts'), runtime, { create: FAST });
  for (const doc of DOCUMENTS) jobIds.push(collection.addDocument(doc).jobId);
});
afterAll(async () => {
  await collection?.close();
  await cleanup?.();
});

function expectRealTimings(r: AnswerResult): void {
  for (const [name, ms] of Object.entries(r.timings)) {
    expect(Number.isFinite(ms), name).toBe(true);
    expect(ms, name).toBeGreaterThanOrEqual(0);
  }
  expect(r.timings.prefill_ms).toBeGreaterThan(0);
}

describe('a new collection', () => {
  it('writes collection.json with the defaults and what create gave', () => {
    expect(collection.name).toBe('facts');
    expect(collection.settings).toMatchObject({
      backend: 'bm25',
      corpusDir: 'corpus',
      adapterDir: 'adapters',
      adapterDataset: 'facts',
      recipe: { rank: 2, alpha: 32, lr: 1e-3, epochs: 1, examples: 'passage', loss: 'all', qa: 3, maxTokens: 1024, seed: 0 },
      answer: { method: 'combine', k: 3, compose: 'score', maxNewTokens: 6 },
    });
  });

  it('records added documents as jobs at once, then ingests, indexes, augments and encodes each', async () => {
    // addDocument returned before any work: the documents are known, their jobs recorded.
    expect(collection.document('festival')).toMatchObject({ id: 'festival', text: DOCUMENTS[1].text });
    await collection.whenIdle();
    for (const id of jobIds) expect(collection.job(id)).toMatchObject({ state: 'done', step: 'encode', kind: 'add' });
    expect(collection.pendingJobs()).toEqual([]);
    expect(collection.documentCount()).toBe(3);
    for (const doc of DOCUMENTS) expect(collection.document(doc.id)).toMatchObject({ id: doc.id, hasAdapter: true });
    expect(collection.document('lighthouse')?.title).toBe('Varnholm');
  });

  it('answers with each method: retrieval, passages, adapters, token counts and timings are real', async () => {
    const question = QUESTIONS.element;
    const base = await collection.answer({ question, method: 'wo_param' });
    expect(base).toMatchObject({ method: 'wo_param', documents: [], adapters: [], missingAdapters: [] });
    const icl = await collection.answer({ question, method: 'icl', k: 1 });
    expect(icl.documents.map((d) => d.id)).toEqual(['element']);
    expect(icl.adapters).toEqual([]);
    // The passage is in the prompt.
    expect(icl.promptTokens).toBeGreaterThan(base.promptTokens + DOCUMENTS[2].text.length / 2);
    const rg = await collection.answer({ question, method: 'cat_all_one', k: 1 });
    expect(rg.documents.map((d) => d.id)).toEqual(['element']);
    expect(rg.adapters).toEqual([{ id: 'element', weight: 1 }]);
    expect(rg.promptTokens).toBe(base.promptTokens);
    const combine = await collection.answer({ question });
    expect(combine.method).toBe('combine');
    expect(combine.documents[0].id).toBe('element');
    // mean composition over the k applied adapters.
    expect(combine.adapters.map((a) => a.weight)).toEqual(combine.documents.map(() => 1 / combine.documents.length));
    for (const r of [base, icl, rg, combine]) {
      expect(r.completionTokens).toBeGreaterThan(0);
      expect(r.completionTokens).toBeLessThanOrEqual(6);
      expect(['stop', 'length']).toContain(r.finishReason);
      expect(r.finishReason === 'length').toBe(r.completionTokens === 6);
      expectRealTimings(r);
    }
    // What was applied is a trained adapter: B has moved away from the base_weight's zeros.
    const store = AdapterStore.open(join(dir, 'facts', 'adapters'), { create: false });
    try {
      const key = { model: runtime.modelName, rank: 2, alpha: 32, dataset: 'facts', lr: 1e-3, epochs: 1, id: 'element' };
      const trained = store.load(key);
      expect(Math.max(...[...trained.modules.values()].flatMap((m) => [...m.b].map(Math.abs)))).toBeGreaterThan(1e-4);
      expect(store.get(key)?.trainingConfig).toMatchObject({ recipe: { examples: 'passage', loss: 'all' }, documents: ['element'] });
    } finally {
      store.close();
    }
  });

  it('answers the same when the model decodes in a worker thread (compositions cross in shared memory)', async () => {
    const inWorker = await tinyRuntime('collection-worker', { worker: true });
    // The same weights (the tiny model is written from a fixed seed), the same collection, opened only to answer.
    const served = await openCollection(join(dir, 'facts'), inWorker.runtime, { runJobs: false });
    try {
      for (const adapters of [['element', 'festival', 'lighthouse'], ['festival']]) {
        const request = { question: QUESTIONS.element, method: 'cat_all_one' as const, adapters: adapters.map((id) => ({ id })) };
        const here = await collection.answer(request);
        const there = await served.answer(request);
        expect(there.adapters).toEqual(here.adapters);
        expect(there.text).toBe(here.text);
      }
    } finally {
      await served.close();
      await inWorker.cleanup();
    }
  });

  it('streams deltas that concatenate to the text', async () => {
    const deltas: string[] = [];
    const r = await collection.answer({ question: QUESTIONS.festival, maxNewTokens: 12, onDelta: (d) => deltas.push(d) });
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(r.text);
  });

  it('stops between tokens when the signal aborts', async () => {
    const abort = new AbortController();
    const r = await collection.answer({
      question: QUESTIONS.festival,
      maxNewTokens: 24,
      signal: abort.signal,
      onDelta: () => abort.abort(),
    });
    expect(r.finishReason).toBe('abort');
    expect(r.completionTokens).toBeLessThan(24);
    const before = await collection.answer({ question: QUESTIONS.festival, signal: AbortSignal.abort() });
    expect(before).toMatchObject({ finishReason: 'abort', completionTokens: 0, text: '' });
  });

  it('applies explicit adapters with their weights and reports the missing ones', async () => {
    const r = await collection.answer({
      question: QUESTIONS.element,
      method: 'cat_all_one',
      adapters: [{ id: 'element', weight: 0.5 }, { id: 'not-yet-encoded' }, { id: 'festival' }],
    });
    expect(r.documents).toEqual([]);
    expect(r.adapters).toEqual([
      { id: 'element', weight: 0.5 },
      { id: 'festival', weight: 1 },
    ]);
    expect(r.missingAdapters).toEqual(['not-yet-encoded']);
    await expect(collection.answer({ question: 'x', method: 'icl', adapters: [{ id: 'element' }] })).rejects.toThrow(
      /adapters: method icl/,
    );
  });

  it('takes a conversation and raw prompts', async () => {
    const one = await collection.answer({ question: QUESTIONS.element, method: 'wo_param' });
    const chat = await collection.answer({
      question: QUESTIONS.element,
      method: 'wo_param',
      messages: [
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: 'Hello.' },
        { role: 'assistant', content: 'Hello!' },
        { role: 'user', content: QUESTIONS.element },
      ],
    });
    expect(chat.promptTokens).toBeGreaterThan(one.promptTokens);
    const raw = await collection.answer({ question: 'The element quorinium', method: 'wo_param', raw: true });
    // Byte-level tokenizer, no template: one token per byte.
    expect(raw.promptTokens).toBe('The element quorinium'.length);
    const rawIcl = await collection.answer({ question: 'The element quorinium', method: 'icl', k: 1, raw: true });
    expect(rawIcl.promptTokens).toBeGreaterThan(raw.promptTokens + DOCUMENTS[2].text.length);
  });

  it('refuses a method a collection does not serve, naming the field', async () => {
    await expect(collection.answer({ question: 'x', method: 'dapt' })).rejects.toThrow(/method: "dapt" is not served/);
  });

  it('refuses bad requests with a RequestError naming the field, for answer and addDocument', async () => {
    const refused = async (call: () => unknown): Promise<RequestError> => {
      try {
        await call();
      } catch (e) {
        expect(e).toBeInstanceOf(RequestError);
        return e as RequestError;
      }
      throw new Error('not refused');
    };
    expect(await refused(() => collection.answer({ question: 'x', method: 'dapt' }))).toMatchObject({
      operation: 'answer',
      field: 'method',
    });
    expect(
      await refused(() =>
        collection.answer({ question: 'x', method: 'cat_all_one', adapters: [{ id: 'a' }, { id: 'b', weight: Number.NaN }] }),
      ),
    ).toMatchObject({
      field: 'adapters[1]',
      message: 'answer: adapters[1]: expected { id: string, weight?: finite number }',
    });
    expect(await refused(() => collection.addDocument({ text: '  ' }))).toMatchObject({ operation: 'addDocument', field: 'text' });
    expect(await refused(() => collection.addDocument({ id: 'cluster-k4-0', text: 'x' }))).toMatchObject({ field: 'id' });
    expect(await refused(() => collection.addDocument({ text: 'x', metadata: { year: [1998] as unknown as number } }))).toMatchObject({
      field: 'metadata.year',
      reason: 'expected a string, number or boolean, got object',
    });
  });

  it('counts adapter loads served from the store cache and read from disk', async () => {
    const ask = () => collection.answer({ question: QUESTIONS.element, method: 'cat_all_one', k: 1 });
    const before = collection.adapterCacheStats();
    expect((await ask()).adapters).toHaveLength(1);
    const once = collection.adapterCacheStats();
    expect(once.hits + once.misses).toBe(before.hits + before.misses + 1);
    await ask();
    // The same adapter again, still in the LRU.
    expect(collection.adapterCacheStats()).toEqual({ hits: once.hits + 1, misses: once.misses });
  });

  it('warms the documents adapters into memory, uncounted; answers then read none from disk', async () => {
    const reopened = await openCollection(join(dir, 'facts'), runtime);
    try {
      const warmed = await reopened.warmAdapters();
      expect(warmed).toMatchObject({ adapters: DOCUMENTS.length, failed: 0, complete: true });
      expect(warmed.cachedBytes).toBeGreaterThan(0);
      expect(reopened.adapterCacheStats()).toEqual({ hits: 0, misses: 0 });
      await reopened.answer({ question: QUESTIONS.element, method: 'cat_all_one', k: 2 });
      expect(reopened.adapterCacheStats()).toMatchObject({ misses: 0 });
      expect(reopened.adapterCacheStats().hits).toBeGreaterThan(0);
    } finally {
      await reopened.close();
    }
  });

  it('counts jobs by state', async () => {
    const before = collection.jobCounts();
    expect(Object.keys(before).sort()).toEqual(['cancelled', 'done', 'failed', 'queued', 'running']);
    expect(before.done).toBeGreaterThanOrEqual(DOCUMENTS.length);
    collection.addDocument({ id: 'counted', text: 'Tolsey Market opens at dawn on Saturdays in Rendle.' });
    collection.addDocument({ id: 'dup-of-festival', text: DOCUMENTS[1].text });
    const gone = collection.addDocument({ id: 'gone', text: 'The Amberly ferry stopped running in 1987.' });
    await collection.deleteDocument(gone.documentId);
    await collection.whenIdle();
    expect(collection.jobCounts()).toEqual({
      queued: 0,
      running: 0,
      done: before.done + 1,
      failed: before.failed + 1,
      cancelled: before.cancelled + 1,
    });
    await collection.deleteDocument('counted');
  });

  it('deletes a document: out of retrieval, its adapter gone, its text gone', async () => {
    const extra = collection.addDocument({ text: 'Brannoch Mill grinds barley for the whole valley of Teskar every Tuesday.' });
    expect(extra.documentId).toMatch(/^[0-9a-f]{16}$/);
    // The same text again is the same document.
    expect(collection.addDocument({ text: 'Brannoch Mill grinds barley for the whole valley of Teskar every Tuesday.' }).documentId).toBe(
      extra.documentId,
    );
    await collection.whenIdle();
    const question = 'Which mill grinds barley in Teskar?';
    expect((await collection.answer({ question, method: 'icl', k: 1 })).documents.map((d) => d.id)).toEqual([extra.documentId]);
    expect(await collection.deleteDocument(extra.documentId)).toBe(true);
    expect(await collection.deleteDocument(extra.documentId)).toBe(false);
    expect(collection.document(extra.documentId)).toBeUndefined();
    expect(collection.documentCount()).toBe(3);
    const after = await collection.answer({ question, method: 'cat_all_one' });
    expect(after.documents.map((d) => d.id)).not.toContain(extra.documentId);
    const explicit = await collection.answer({ question, method: 'cat_all_one', adapters: [{ id: extra.documentId }] });
    expect(explicit.missingAdapters).toEqual([extra.documentId]);
  });

  it('cancels the add job of a document deleted before it ran', async () => {
    const { jobId, documentId } = collection.addDocument({ id: 'short-lived', text: 'Pellow Bridge was painted red in 2011.' });
    expect(await collection.deleteDocument(documentId)).toBe(true);
    await collection.whenIdle();
    expect(collection.job(jobId)?.state).toBe('cancelled');
    expect(collection.document(documentId)).toBeUndefined();
  });

  it('fails a job naming its step, and goes on with the next', async () => {
    // The same text under another id: the corpus keeps one copy of a content.
    const dup = collection.addDocument({ id: 'copy', text: DOCUMENTS[1].text });
    const ok = collection.addDocument({ id: 'harbour', text: 'The harbour of Ostvik freezes every January since the dam was built.' });
    await collection.whenIdle();
    expect(collection.job(dup.jobId)).toMatchObject({ state: 'failed', step: 'ingest' });
    expect(collection.job(dup.jobId)?.error).toBe('ingest: the same title and text is already stored as document "festival"');
    expect(collection.job(ok.jobId)?.state).toBe('done');
  });

  it('replaces a document added again under its id with new text, and retrains its adapter', async () => {
    const store = () => AdapterStore.open(join(dir, 'facts', 'adapters'), { create: false });
    const key = { model: runtime.modelName, rank: 2, alpha: 32, dataset: 'facts', lr: 1e-3, epochs: 1, id: 'harbour' };
    const s1 = store();
    const before = s1.get(key)?.contentHash;
    s1.close();
    collection.addDocument({
      id: 'harbour',
      text: 'The harbour of Ostvik never freezes: warm water from the Lerne current keeps it open.',
    });
    await collection.whenIdle();
    expect(collection.document('harbour')?.text).toContain('Lerne current');
    const s2 = store();
    expect(s2.get(key)?.contentHash).toBeDefined();
    expect(s2.get(key)?.contentHash).not.toBe(before);
    s2.close();
  });
});
