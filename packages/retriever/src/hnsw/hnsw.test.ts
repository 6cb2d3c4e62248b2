import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SentenceEncoder, seededRandom } from '@rg/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteVecRetriever } from '../dense/sqlite-vec.js';
import { retrieverContract } from '../testing/contract.js';
import type { Document, Embedder } from '../types.js';
import { HnswRetriever } from './hnsw.js';

const HOME = process.env.RG_HOME || join(homedir(), '.cache', 'rg');
const freshDir = (): string => mkdtempSync(join(tmpdir(), 'rg-hnsw-'));

let encoder: Promise<SentenceEncoder> | undefined;
afterAll(async () => {
  await (await encoder)?.close();
});

retrieverContract('hnsw (all-MiniLM-L6-v2 vectors, HNSW graph)', async () => {
  encoder ??= SentenceEncoder.miniLM(HOME, { threads: 2 });
  const dir = freshDir();
  return new HnswRetriever(join(dir, 'dense.sqlite'), join(dir, 'dense.hnsw'), await encoder);
});

/** Seeded unit vectors: a document's text is its vector's seed, so tests know every vector. */
function randomUnit(seed: number, dim: number): Float32Array {
  const next = seededRandom(seed);
  const v = Float32Array.from({ length: dim }, () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()));
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

/** An embedder over seeded vectors ("v:<seed>" texts) that counts what it was asked to embed. */
class SeededEmbedder implements Embedder {
  embedded = 0;
  constructor(readonly dim = 16) {}
  async embed(texts: string[]): Promise<Float32Array[]> {
    this.embedded += texts.length;
    return texts.map((t) => randomUnit(Number(t.slice(2)), this.dim));
  }
}

const docs = (n: number, from = 0): Document[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `d${from + i}`,
    text: `v:${from + i}`,
    metadata: { parity: (from + i) % 2 === 0 ? 'even' : 'odd', rare: (from + i) % 500 === 7 },
  }));

function open(dir: string, embedder: Embedder, extra: ConstructorParameters<typeof HnswRetriever>[3] = {}): HnswRetriever {
  return new HnswRetriever(join(dir, 'dense.sqlite'), join(dir, 'dense.hnsw'), embedder, extra);
}

const overlap = (a: string[], b: string[]): number => a.filter((id) => b.includes(id)).length;

describe('hnsw specifics', () => {
  it('finds the exact top 10 (recall@10 ≥ 0.98) past its initial capacity, with cosine scores', async () => {
    const emb = new SeededEmbedder();
    const r = open(freshDir(), emb);
    for (let i = 0; i < 3; i++) await r.add(docs(500, i * 500)); // 1,500 > the first 1,024 slots
    expect(await r.count()).toBe(1500);
    let found = 0;
    for (let q = 0; q < 30; q++) {
      const query = randomUnit(1_000_000 + q, 16);
      const ann = r.searchVector(query, { k: 10 });
      const exact = r.vectors.searchVector(query, { k: 10 });
      found += overlap(
        ann.map((h) => h.id),
        exact.map((h) => h.id),
      );
      expect(ann[0].score).toBeCloseTo(exact[0].score, 5);
    }
    expect(found / 300).toBeGreaterThanOrEqual(0.98);
    await r.close();
  });

  it('over-fetches then filters, and falls back to the exact scan for a selective filter', async () => {
    const r = open(freshDir(), new SeededEmbedder());
    await r.add(docs(1200));
    const query = randomUnit(42, 16);
    const even = r.searchVector(query, { k: 10, filter: { parity: 'even' } });
    expect(even).toHaveLength(10);
    expect(even.every((h) => Number(h.id.slice(1)) % 2 === 0)).toBe(true);
    const exactEven = r.vectors.searchVector(query, { k: 10, filter: { parity: 'even' } });
    expect(
      overlap(
        even.map((h) => h.id),
        exactEven.map((h) => h.id),
      ),
    ).toBeGreaterThanOrEqual(9);
    // 3 of 1,200 documents are rare: the 100 candidates hardly hold them all, the exact scan finds them.
    const rare = r.searchVector(query, { k: 10, filter: { rare: true } });
    expect(rare.map((h) => h.id).sort()).toEqual(['d1007', 'd507', 'd7']);
    await r.close();
  });

  it('saves the graph atomically on close and loads it again without embedding or rebuilding', async () => {
    const dir = freshDir();
    const emb = new SeededEmbedder();
    const r = open(dir, emb);
    await r.add(docs(300));
    const before = r.searchVector(randomUnit(7, 16), { k: 5 });
    await r.close();
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const saved = statSync(join(dir, 'dense.hnsw')).mtimeMs;

    const again = open(dir, emb, { params: { efSearch: 50 } });
    expect(again.searchVector(randomUnit(7, 16), { k: 5 })).toEqual(before);
    await again.close();
    expect(emb.embedded).toBe(300);
    // Nothing changed, so nothing was written.
    expect(statSync(join(dir, 'dense.hnsw')).mtimeMs).toBe(saved);
  });

  it('rebuilds the graph when the vectors changed without it (here: written by the dense backend)', async () => {
    const dir = freshDir();
    const emb = new SeededEmbedder();
    const r = open(dir, emb);
    await r.add(docs(100));
    await r.close();
    const dense = new SqliteVecRetriever(join(dir, 'dense.sqlite'), emb);
    await dense.add(docs(1, 5000));
    await dense.delete(['d3']);
    await dense.close();
    const again = open(dir, emb);
    const target = randomUnit(5000, 16);
    expect(again.searchVector(target, { k: 1 })[0]).toMatchObject({ id: 'd5000' });
    expect(again.searchVector(randomUnit(3, 16), { k: 100 }).map((h) => h.id)).not.toContain('d3');
    expect(await again.count()).toBe(100);
    await again.close();
  });

  it('deletes, re-adds and replaces by id', async () => {
    const emb = new SeededEmbedder();
    const r = open(freshDir(), emb);
    await r.add(docs(50));
    await r.delete(['d10', 'missing']);
    expect(await r.count()).toBe(49);
    expect(r.searchVector(randomUnit(10, 16), { k: 5 }).map((h) => h.id)).not.toContain('d10');
    await r.add([{ id: 'd10', text: 'v:10' }]);
    expect(r.searchVector(randomUnit(10, 16), { k: 1 })[0]).toMatchObject({ id: 'd10' });
    // The same id with a new text moves to the new vector.
    await r.add([{ id: 'd10', text: 'v:777' }]);
    expect(r.searchVector(randomUnit(777, 16), { k: 1 })[0].id).toBe('d10');
    expect(r.searchVector(randomUnit(10, 16), { k: 1 })[0].id).not.toBe('d10');
    expect(await r.count()).toBe(50);
    await r.close();
  });

  it('takes vectors from a previous index instead of embedding them again', async () => {
    const dir = freshDir();
    const emb = new SeededEmbedder();
    const dense = new SqliteVecRetriever(join(dir, 'old.sqlite'), emb);
    await dense.add(docs(40));
    await dense.close();
    expect(emb.embedded).toBe(40);
    const r = open(dir, emb, { reuseFrom: join(dir, 'old.sqlite') });
    // 39 unchanged documents are copied; one has a new text and one is new.
    await r.add([...docs(39), { id: 'd39', text: 'v:9999' }, ...docs(1, 40)]);
    expect(emb.embedded).toBe(42);
    expect(r.searchVector(randomUnit(9999, 16), { k: 1 })[0].id).toBe('d39');
    await r.close();
    expect(existsSync(join(dir, 'dense.hnsw'))).toBe(true);
  });

  it('rejects parameters that are not positive integers', () => {
    expect(() => open(freshDir(), new SeededEmbedder(), { params: { M: 0 } })).toThrow(/HNSW M: expected a positive integer, got 0/);
  });
});
