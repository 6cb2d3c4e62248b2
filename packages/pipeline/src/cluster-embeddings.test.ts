import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorpusStore } from '@rg/corpus';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddingCache, type TextEmbedder } from './cluster-embeddings.js';

/** A stand-in for the sentence encoder: a deterministic vector per text, counting what it is asked to embed. */
class CountingEmbedder implements TextEmbedder {
  readonly dim = 4;
  texts: string[] = [];
  failAfter = Number.POSITIVE_INFINITY;
  async embed(texts: string[]): Promise<Float32Array[]> {
    if (this.texts.length >= this.failAfter) throw new Error('simulated crash');
    this.texts.push(...texts);
    return texts.map((t) => Float32Array.from([t.length, t.charCodeAt(0), t.charCodeAt(t.length - 1), 1]));
  }
}

const docs = Array.from({ length: 10 }, (_, i) => ({ id: `d${i}`, title: i % 2 ? `T${i}` : '', text: `text number ${i}` }));
let store: CorpusStore;
afterEach(() => store?.close());

describe('EmbeddingCache', () => {
  it('embeds each document once, in batches, and scans the cached vectors in store order', async () => {
    store = CorpusStore.open(mkdtempSync(join(tmpdir(), 'rg-emb-')));
    store.add(docs);
    const cache = EmbeddingCache.open(store, 'test-model');
    const e = new CountingEmbedder();
    const batches: number[] = [];
    expect(cache.pending()).toBe(10);
    expect(await cache.fill(e, { batchSize: 4, onBatch: (n) => batches.push(n) })).toBe(10);
    expect(batches).toEqual([4, 4, 2]);
    expect(e.texts[1]).toBe('T1\ntext number 1');
    expect(cache.pending()).toBe(0);
    expect(await cache.fill(e, { batchSize: 4 })).toBe(0);
    const scanned = [...cache.scan()];
    expect(scanned.map((s) => s.id)).toEqual(docs.map((d) => d.id));
    expect(Array.from(scanned[1].vector)).toEqual([16, 'T'.charCodeAt(0), '1'.charCodeAt(0), 1]);
  });

  it('resumes after a crash and re-embeds a document whose text changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-emb-'));
    store = CorpusStore.open(dir);
    store.add(docs);
    const crashing = new CountingEmbedder();
    crashing.failAfter = 6;
    await expect(EmbeddingCache.open(store, 'm').fill(crashing, { batchSize: 3 })).rejects.toThrow('simulated crash');
    store.close();

    store = CorpusStore.open(dir);
    const cache = EmbeddingCache.open(store, 'm');
    expect(cache.pending()).toBe(4);
    const e = new CountingEmbedder();
    expect(await cache.fill(e, { batchSize: 3 })).toBe(4);
    expect(e.texts).toEqual(docs.slice(6).map((d) => (d.title ? `${d.title}\n${d.text}` : d.text)));

    store.delete(['d2']);
    store.add([{ id: 'd2', text: 'a new text' }]);
    expect(cache.pending()).toBe(1);
    await cache.fill(e, { batchSize: 3 });
    expect(e.texts.at(-1)).toBe('a new text');
    // Another model has its own vectors.
    expect(EmbeddingCache.open(store, 'other').pending()).toBe(10);
  });

  it('rejects vectors of the wrong size, naming the document', async () => {
    store = CorpusStore.open(mkdtempSync(join(tmpdir(), 'rg-emb-')));
    store.add(docs.slice(0, 2));
    const bad: TextEmbedder = { dim: 3, embed: async (t) => t.map(() => new Float32Array(4)) };
    await expect(EmbeddingCache.open(store, 'm').fill(bad, { batchSize: 8 })).rejects.toThrow(
      "embedder returned 4 dims for document 'd0', expected 3",
    );
  });
});
