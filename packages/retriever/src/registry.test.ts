import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { retrieverContract } from '@rg/retriever/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { IndexMissingError, knownBackends, openRetriever, registerRetrieverBackend } from './open.js';
import { type PluginOpenOptions, unregisterBackend } from './registry.js';
import type { Document, Embedder, Retriever, SearchHit, SearchOptions } from './types.js';

/** An outside backend in a few lines: words weighted by rarity, in memory. */
class WordsRetriever implements Retriever {
  readonly backend = 'words';
  private readonly docs = new Map<string, Document>();
  private static words = (text: string) => new Set((text.toLowerCase().match(/[a-z]+/g) ?? []).filter((w) => w.length > 3));
  async add(docs: Document[]): Promise<void> {
    for (const d of docs) this.docs.set(d.id, d);
  }
  async delete(ids: string[]): Promise<void> {
    for (const id of ids) this.docs.delete(id);
  }
  async search(query: string, { k, filter }: SearchOptions): Promise<SearchHit[]> {
    const texts = [...this.docs.values()].map((d) => ({ d, words: WordsRetriever.words(`${d.title ?? ''} ${d.text}`) }));
    const idf = (w: string) => Math.log(1 + texts.length / (1 + texts.filter((t) => t.words.has(w)).length));
    const q = [...WordsRetriever.words(query)];
    return texts
      .filter(({ d }) => Object.entries(filter ?? {}).every(([key, v]) => d.metadata?.[key] === v))
      .map(({ d, words }) => ({ id: d.id, score: q.filter((w) => words.has(w)).reduce((s, w) => s + idf(w), 0) }))
      .filter((h) => h.score > 0)
      .sort((a, b) => b.score - a.score)
      .slice(0, k);
  }
  async searchBatch(queries: string[], opts: SearchOptions): Promise<SearchHit[][]> {
    return Promise.all(queries.map((q) => this.search(q, opts)));
  }
  async count(): Promise<number> {
    return this.docs.size;
  }
  async close(): Promise<void> {}
}

const dir = mkdtempSync(join(tmpdir(), 'rg-plugin-'));
registerRetrieverBackend({ name: 'words', open: async () => new WordsRetriever() });
registerRetrieverBackend({
  name: 'words-on-disk',
  indexFiles: (storeDir) => [join(storeDir, 'words.idx')],
  open: async () => new WordsRetriever(),
});
afterAll(() => {
  unregisterBackend('words');
  unregisterBackend('words-on-disk');
  rmSync(dir, { recursive: true, force: true });
});

// A registered plug-in is opened by name like the built-in backends, and proves itself with the exported suite.
retrieverContract('plug-in "words"', () => openRetriever('words', { storeDir: dir }));

describe('backend plug-ins', () => {
  it('are listed after the built-in backends; an unknown name is refused naming them all', async () => {
    expect(knownBackends()).toEqual(expect.arrayContaining(['sqlite', 'elasticsearch', 'words', 'words-on-disk']));
    await expect(openRetriever('nope', { storeDir: dir })).rejects.toThrow(
      /unknown retrieval backend "nope": expected one of sqlite, .*words/,
    );
  });

  it('cannot take a built-in name, nor a registered name with another plug-in', () => {
    expect(() => registerRetrieverBackend({ name: 'sqlite', open: async () => new WordsRetriever() })).toThrow('is built in');
    expect(() => registerRetrieverBackend({ name: 'words', open: async () => new WordsRetriever() })).toThrow('already registered');
    expect(() => registerRetrieverBackend({ name: 'Bad Name', open: async () => new WordsRetriever() })).toThrow('lowercase');
  });

  it('a plug-in with index files opens only once they exist, unless it builds', async () => {
    await expect(openRetriever('words-on-disk', { storeDir: dir })).rejects.toBeInstanceOf(IndexMissingError);
    expect((await openRetriever('words-on-disk', { storeDir: dir, build: true })).backend).toBe('words');
    writeFileSync(join(dir, 'words.idx'), '');
    expect((await openRetriever('words-on-disk', { storeDir: dir })).backend).toBe('words');
    await expect(openRetriever('words', { storeDir: dir, fieldWeights: { tags: 2 } })).rejects.toThrow('field weights apply to');
  });

  it('elasticsearch and qdrant are known names that open only once their package registered them', async () => {
    expect(knownBackends()).toEqual(expect.arrayContaining(['elasticsearch', 'qdrant']));
    await expect(openRetriever('elasticsearch', { storeDir: dir })).rejects.toThrow(
      'backend elasticsearch: install and register @rg/retriever-elasticsearch (`registerElasticsearch()` once at start, before opening it)',
    );
    await expect(openRetriever('qdrant', { storeDir: dir })).rejects.toThrow(
      'backend qdrant: install and register @rg/retriever-qdrant (`registerQdrant()` once at start',
    );
    // Refused as before, whether or not the plug-in is there: qdrant embeds title and text only.
    await expect(openRetriever('qdrant', { storeDir: dir, fieldWeights: { tags: 1 } })).rejects.toThrow(
      'field weights apply to the sqlite, hybrid, elasticsearch backends, not qdrant (it embeds title and text only)',
    );
  });

  it("a server backend's plug-in gets the caller's options: embedder, field weights, remote settings, home, threads, env", async () => {
    let given: PluginOpenOptions | undefined;
    const plugin = {
      name: 'elasticsearch',
      open: async (o: PluginOpenOptions) => {
        given = o;
        return new WordsRetriever();
      },
    };
    registerRetrieverBackend(plugin);
    try {
      const embedder: Embedder = { dim: 1, embed: async (t) => t.map(() => Float32Array.of(1)) };
      const env = { RG_ES_URL: 'http://127.0.0.1:9', RG_REMOTE_RETRIES: '0', RG_REMOTE_TIMEOUT: '5' };
      await openRetriever('elasticsearch', {
        storeDir: dir,
        build: true,
        home: '/models',
        threads: 3,
        env,
        embedder: async () => embedder,
        fieldWeights: { tags: 2 },
        remote: { requestTimeoutMs: 1000 },
      });
      expect(given).toMatchObject({ storeDir: dir, build: true, home: '/models', threads: 3, env, fieldWeights: { tags: 2 } });
      // Explicit remote settings win over RG_REMOTE_* of the environment.
      expect(given?.remote).toMatchObject({ requestTimeoutMs: 1000, maxRetries: 0 });
      expect(await given?.embedder()).toBe(embedder);
      expect(() => registerRetrieverBackend({ ...plugin })).toThrow('already registered');
    } finally {
      unregisterBackend('elasticsearch');
    }
  });

  it('the vector backends take an injected embedder instead of the default model (and own it)', async () => {
    let closed = 0;
    const embedder: Embedder = {
      dim: 3,
      embed: async (texts) => texts.map((t) => Float32Array.from([t.length % 7, 1, 0.5]).map((x, _i, a) => x / Math.hypot(...a))),
      close: async () => {
        closed++;
      },
    };
    const store = join(dir, 'dense-store');
    const r = await openRetriever('dense', { storeDir: store, build: true, embedder: async () => embedder });
    await r.add([{ id: 'a', text: 'short' }]);
    expect(await r.count()).toBe(1);
    await r.close();
    expect(closed).toBe(1);
  });
});
