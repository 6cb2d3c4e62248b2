import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorpusStore } from '@rg/corpus';
import { afterAll, describe, expect, it } from 'vitest';
import type { TextEmbedder } from '../cluster-embeddings.js';
import { type ClusterBenchOptions, clusterBench } from './cluster.js';
import { BenchInputError } from './errors.js';

const TOPICS = [
  ['aspirin', 'heart', 'myocardial', 'coronary', 'statin', 'cholesterol', 'cardiovascular'],
  ['europa', 'jupiter', 'ice', 'supernova', 'stars', 'elements', 'gold'],
];

/** A stand-in for the sentence encoder: how often a text names each topic's words, as a unit vector. */
class TopicEmbedder implements TextEmbedder {
  readonly dim = TOPICS.length + 1;
  texts = 0;
  async embed(texts: string[]): Promise<Float32Array[]> {
    this.texts += texts.length;
    return texts.map((t) => {
      const v = [...TOPICS.map((words) => words.filter((w) => t.toLowerCase().includes(w)).length), 0.1];
      const norm = Math.hypot(...v);
      return Float32Array.from(v, (x) => x / norm);
    });
  }
}

const docs: Record<string, [string, string]> = {
  '1': ['Does aspirin prevent heart attacks?', 'Aspirin reduced myocardial infarction in patients with coronary disease.'],
  '2': ['Do statins lower cholesterol?', 'Statins lowered LDL cholesterol and cardiovascular events.'],
  '3': ['Is Europa covered by ice?', 'Images of Jupiter’s moon Europa show a surface of water ice.'],
  '4': ['Do supernovae make heavy elements?', 'Exploding massive stars forge heavy elements such as gold.'],
};
const dir = mkdtempSync(join(tmpdir(), 'rg-bench-cluster-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const store = CorpusStore.open(join(dir, 'store'));
store.add(Object.entries(docs).map(([id, [, text]]) => ({ id, text })));
afterAll(() => store.close());
const questionsFile = (entries: Array<[string, [string, string]]>) => {
  const file = join(mkdtempSync(join(dir, 'q-')), 'ori_pqal.json');
  const pqal = entries.map(([id, [q, text]]) => [id, { QUESTION: q, CONTEXTS: [text], final_decision: 'yes' }]);
  writeFileSync(file, JSON.stringify(Object.fromEntries(pqal)));
  return file;
};
const embedder = new TopicEmbedder();
const options = (more: Partial<ClusterBenchOptions> = {}): ClusterBenchOptions => ({
  store,
  input: questionsFile(Object.entries(docs)),
  kValues: [2, 3],
  topC: [1, 2],
  seed: 0,
  home: join(dir, 'home'),
  threads: 1,
  encoder: { model: 'topic-stand-in', embedder },
  ...more,
});

describe('clusterBench', () => {
  it('fits each k and routes every question to its abstract’s cluster, beside chance, without saving clusters', async () => {
    const r = await clusterBench(options());
    expect(r.corpus).toMatchObject({ store: store.dir, documents: 4, questions: 4 });
    expect(r.encoder).toMatchObject({ model: 'topic-stand-in', documentsEmbeddedNow: 4 });
    expect(r.results.map((x) => x.k)).toEqual([2, 3]);
    const [two, three] = r.results;
    // Two topics, two clusters: each question lands in its abstract's cluster.
    expect(two).toMatchObject({ routing: { top1: 1, top2: 1 }, chance: { top1: 0.5, top2: 1 }, sizes: { min: 2, max: 2 } });
    expect(three.chance).toEqual({ top1: 1 / 3, top2: 2 / 3 });
    for (const x of r.results) {
      expect(Object.keys(x.routing)).toEqual(['top1', 'top2']);
      expect(x.routing.top1).toBeLessThanOrEqual(x.routing.top2);
      expect(x.silhouette).toBeGreaterThanOrEqual(-1);
      expect(x.silhouette).toBeLessThanOrEqual(1);
    }
    expect(existsSync(join(dir, 'store', 'clusters.json'))).toBe(false);
    // The document vectors are cached in the store: a second run embeds only the questions.
    const before = embedder.texts;
    const again = await clusterBench(options({ kValues: [2] }));
    expect(again.encoder.documentsEmbeddedNow).toBe(0);
    expect(embedder.texts - before).toBe(4);
  });

  it('counts only the questions whose abstract is in the store, and refuses when there is none', async () => {
    const some = await clusterBench(options({ input: questionsFile([...Object.entries(docs), ['999', ['Who?', 'Nobody.']]]) }));
    expect(some.corpus.questions).toBe(4);
    await expect(clusterBench(options({ input: questionsFile([['999', ['Who?', 'Nobody.']]]) }))).rejects.toThrow(BenchInputError);
  });
});
