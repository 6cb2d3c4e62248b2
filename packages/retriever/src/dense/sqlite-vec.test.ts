import { mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SentenceEncoder } from '@rg/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { HybridRetriever, reciprocalRankFusion } from '../hybrid/rrf.js';
import { SqliteBm25Retriever } from '../sqlite/bm25.js';
import { retrieverContract } from '../testing/contract.js';
import { SqliteVecRetriever } from './sqlite-vec.js';

const HOME = process.env.RG_HOME || join(homedir(), '.cache', 'rg');
const fresh = (name: string): string => join(mkdtempSync(join(tmpdir(), 'rg-dense-')), name);

// One real all-MiniLM-L6-v2 encoder shared by the dense and hybrid runs (fetched into RG_HOME on first use).
let encoder: Promise<SentenceEncoder> | undefined;
const miniLM = (): Promise<SentenceEncoder> => {
  encoder ??= SentenceEncoder.miniLM(HOME, { threads: 2 });
  return encoder;
};
afterAll(async () => {
  await (await encoder)?.close();
});

retrieverContract('dense (all-MiniLM-L6-v2 + sqlite-vec)', async () => new SqliteVecRetriever(fresh('dense.sqlite'), await miniLM()));
retrieverContract(
  'hybrid (BM25 + dense, reciprocal rank fusion)',
  async () =>
    new HybridRetriever([new SqliteBm25Retriever(fresh('bm25.sqlite')), new SqliteVecRetriever(fresh('dense.sqlite'), await miniLM())]),
);

describe('dense specifics', () => {
  it('scores are cosine similarities of the encoder’s vectors', async () => {
    const enc = await miniLM();
    const r = new SqliteVecRetriever(fresh('d.sqlite'), enc);
    await r.add([{ id: 'a', text: 'The cat sat on the mat.' }]);
    const [hit] = await r.search('A cat is sitting on a rug.', { k: 1 });
    const [q, d] = await enc.embed(['A cat is sitting on a rug.', 'The cat sat on the mat.']);
    const cos = q.reduce((s, v, i) => s + v * d[i], 0);
    expect(hit.score).toBeCloseTo(cos, 5);
    await r.close();
  });

  it('embeds a document again only when its passage text changed; the vector version follows the vectors', async () => {
    const texts: string[] = [];
    const counting = {
      dim: 2,
      embed: async (t: string[]) => {
        texts.push(...t);
        return t.map((x) => Float32Array.of(Math.cos(x.length), Math.sin(x.length)));
      },
    };
    const path = fresh('d.sqlite');
    const r = new SqliteVecRetriever(path, counting);
    await r.add([
      { id: 'a', text: 'one' },
      { id: 'b', text: 'three', title: 'T' },
    ]);
    const v1 = r.info('version');
    await r.add([{ id: 'a', text: 'one', metadata: { cluster_id: 3 } }]);
    expect(texts).toEqual(['one', 'T\nthree']);
    expect(r.info('version')).toBe(v1);
    expect(await r.search('xxx', { k: 1, filter: { cluster_id: 3 } })).toMatchObject([{ id: 'a' }]);
    await r.add([{ id: 'a', text: 'eleven' }]);
    expect(texts).toEqual(['one', 'T\nthree', 'xxx', 'eleven']);
    expect(r.info('version')).not.toBe(v1);
    await r.close();
    // A new index reusing this one copies unchanged vectors.
    const next = new SqliteVecRetriever(fresh('n.sqlite'), counting, { reuseFrom: path });
    await next.add([
      { id: 'a', text: 'eleven' },
      { id: 'b', text: 'changed', title: 'T' },
    ]);
    expect(texts.slice(4)).toEqual(['T\nchanged']);
    await next.close();
  });

  it('refuses an index built with vectors of another size', async () => {
    const path = fresh('d.sqlite');
    await new SqliteVecRetriever(path, { dim: 3, embed: async (t) => t.map(() => Float32Array.of(1, 0, 0)) }).close();
    expect(() => new SqliteVecRetriever(path, { dim: 4, embed: async () => [] })).toThrow(/3 dimensions, the encoder makes 4/);
  });
});

describe('reciprocal rank fusion', () => {
  it('sums 1/(k0 + rank) over the lists', () => {
    const fused = reciprocalRankFusion(
      [
        [
          { id: 'a', score: 9 },
          { id: 'b', score: 5 },
        ],
        [
          { id: 'b', score: 0.9 },
          { id: 'c', score: 0.8 },
        ],
      ],
      3,
      60,
    );
    expect(fused.map((h) => h.id)).toEqual(['b', 'a', 'c']);
    expect(fused[0].score).toBeCloseTo(1 / 62 + 1 / 61, 12);
    expect(fused[1].score).toBeCloseTo(1 / 61, 12);
  });
});
