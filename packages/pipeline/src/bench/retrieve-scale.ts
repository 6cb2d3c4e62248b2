import { join } from 'node:path';
import { mean, type Summary, summary } from '@rg/bench-kit';
import type { CorpusStore, Document } from '@rg/corpus';
import { SentenceEncoder, seededRandom } from '@rg/engine';
import { HNSW_DEFAULTS, HnswRetriever, indexFiles, SqliteBm25Retriever } from '@rg/retriever';
import { type BenchQuestion, measure, type RecallFigures } from './retrieve-recall.js';

// The retrieval benchmark's `scale` and `annScale`: latency as the corpus grows, on generated passages.

// At a million generated passages one BM25 query takes seconds on this machine: 20 questions per size keep the
// run under an hour (p99 of 20 is their maximum).
const QUERIES_AT_SCALE = 20;

/** Index sizes measured on the way to the requested total (the total itself is always the last). */
const SCALE_STEPS = [10_000, 100_000, 1_000_000, 10_000_000];

/** One size of the BM25 scaling run. */
export interface ScaleRow extends RecallFigures {
  generatedPassages: number;
  queries: number;
  documents: number;
  generateIndexOptimizeSeconds: number;
}

/**
 * BM25 latency as the index grows: the store's real documents plus generated passages, up to `total`. A passage is
 * 100 words drawn independently from the unigram distribution of the real documents (seeded), so term statistics
 * look like the corpus' vocabulary but no passage answers a question.
 */
export async function scaling(
  store: CorpusStore,
  questions: BenchQuestion[],
  total: number,
  path: string,
  log: (s: string) => void,
): Promise<ScaleRow[]> {
  const r = new SqliteBm25Retriever(path);
  await r.add([...store.iterate()]);
  const words = unigramSampler(store);
  const random = seededRandom(42);
  const steps = SCALE_STEPS.filter((n) => n < total).concat(total);
  const rows: ScaleRow[] = [];
  let added = 0;
  for (const target of steps) {
    const t0 = performance.now();
    while (added < target) {
      const batch: Document[] = [];
      for (let i = 0; i < 10_000 && added < target; i++, added++) {
        batch.push({ id: `gen-${added}`, text: Array.from({ length: 100 }, () => words(random())).join(' ') });
      }
      await r.add(batch);
    }
    r.optimize();
    const addSeconds = (performance.now() - t0) / 1000;
    const m = await measure(r, questions.slice(0, QUERIES_AT_SCALE), 3);
    log(`bench retrieve scaling: ${added} generated passages, p50 ${m.latencyMs.p50.toFixed(2)} ms`);
    rows.push({
      generatedPassages: added,
      // Fewer than QUERIES_AT_SCALE when the dataset has fewer questions.
      queries: m.latencyMs.n,
      documents: added + store.count(),
      generateIndexOptimizeSeconds: addSeconds,
      ...m,
    });
  }
  await r.close();
  return rows;
}

// Exact search at a million vectors takes seconds per query here: 100 questions per size.
export const QUERIES_AT_ANN_SCALE = 100;
export const EF_SEARCH_SWEEP = [16, 32, 64, 100, 200, 400];

/** HNSW at one efSearch against exact search on the same vectors. */
export interface AnnFigures {
  recallAt10VsExact: number;
  goldAt10: number;
  meanCosineLossAt10: number;
  latencyMs: Summary;
  p50SpeedupOverExact: number;
}

/** One size of the HNSW scaling run; `hnsw` is keyed `efSearch=<n>`. */
export interface AnnScaleRow {
  vectors: number;
  realAbstracts: number;
  generated: number;
  queries: number;
  addSecondsCumulative: number;
  exact: { goldAt10: number; meanTop10CosineSpread: number; latencyMs: Summary };
  hnsw: Record<string, AnnFigures>;
  peakRssBytes: number;
}

export interface AnnScaling {
  generator: string;
  params: { M: number; efConstruction: number; efSearchDefault: number };
  saveSeconds: number;
  rows: AnnScaleRow[];
}

/**
 * HNSW against exact search on the same vectors as the corpus grows. The real abstract vectors (all-MiniLM-L6-v2)
 * come first; each generated vector is a random convex mix of two real abstract vectors, w·a + (1 − w)·b with w
 * uniform in [0, 1], plus isotropic Gaussian noise of expected norm 0.5, renormalised (seeded): it lies among the real
 * documents without answering any question. Queries are real question vectors. recall@10 = share of the exact top 10
 * that the HNSW top 10 holds; gold@10 = share of questions whose own abstract is in the top 10; cosine loss = mean over
 * ranks 1-10 of exact minus HNSW similarity (0 when HNSW finds the exact list); spread = exact 1st minus 10th similarity.
 */
export async function annScaling(
  store: CorpusStore,
  questions: BenchQuestion[],
  total: number,
  dir: string,
  config: { home: string; threads: number },
  log: (s: string) => void,
): Promise<AnnScaling> {
  const encoder = await SentenceEncoder.miniLM(config.home, { threads: config.threads });
  // The abstracts' vectors come from the store's dense index when this run built one.
  const r = new HnswRetriever(join(dir, 'dense.sqlite'), join(dir, 'dense.hnsw'), encoder, {
    reuseFrom: indexFiles(store.dir, 'dense')[0],
    ownsEmbedder: true,
  });
  await r.add([...store.iterate()]);
  const real = [...r.vectors.rows()].map((row) => row.vector);
  const asked = questions.slice(0, QUERIES_AT_ANN_SCALE);
  const queries = await r.vectors.embed(asked.map((q) => q.text));
  const random = seededRandom(7);
  const gaussian = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const dim = real[0].length;
  const sigma = 0.5 / Math.sqrt(dim);
  const steps = SCALE_STEPS.filter((n) => n < total).concat(total);
  const rows: AnnScaleRow[] = [];
  let generated = 0;
  let addSeconds = 0;
  for (const target of steps) {
    const t0 = performance.now();
    while (real.length + generated < target) {
      const docs: Document[] = [];
      const vectors: Float32Array[] = [];
      for (let i = 0; i < 10_000 && real.length + generated < target; i++, generated++) {
        const a = real[Math.floor(random() * real.length)];
        const b = real[Math.floor(random() * real.length)];
        const w = random();
        const v = a.map((x, j) => w * x + (1 - w) * b[j] + sigma * gaussian());
        const norm = Math.hypot(...v);
        docs.push({ id: `gen-${generated}`, text: `gen-${generated}` });
        vectors.push(v.map((x) => x / norm));
      }
      r.addVectors(docs, vectors);
    }
    addSeconds += (performance.now() - t0) / 1000;
    log(`bench retrieve ann: ${real.length + generated} vectors indexed, searching`);
    const exactTimes: number[] = [];
    const exact: string[][] = [];
    const exactScores: number[][] = [];
    let exactGold = 0;
    queries.forEach((q, i) => {
      const t = performance.now();
      const hits = r.vectors.searchVector(q, { k: 10 });
      exactTimes.push(performance.now() - t);
      const ids = hits.map((h) => h.id);
      exact.push(ids);
      exactScores.push(hits.map((h) => h.score));
      if (asked[i].gold.some((g) => ids.includes(g))) exactGold++;
    });
    // How close the exact top 10 are to each other: with near-ties, a missed id costs little similarity.
    const spread = mean(exactScores.map((sc) => sc[0] - sc[sc.length - 1]));
    const exactLatency = summary(exactTimes);
    const ann: Record<string, AnnFigures> = {};
    for (const ef of EF_SEARCH_SWEEP) {
      r.setEfSearch(ef);
      for (const q of queries.slice(0, 10)) r.searchVector(q, { k: 10 });
      const times: number[] = [];
      let found = 0;
      let gold = 0;
      const loss: number[] = [];
      queries.forEach((q, i) => {
        const t = performance.now();
        const hits = r.searchVector(q, { k: 10 });
        times.push(performance.now() - t);
        const ids = hits.map((h) => h.id);
        found += ids.filter((id) => exact[i].includes(id)).length;
        if (asked[i].gold.some((g) => ids.includes(g))) gold++;
        loss.push(mean(exactScores[i].map((sc, j) => sc - (hits[j]?.score ?? 0))));
      });
      const lat = summary(times);
      ann[`efSearch=${ef}`] = {
        recallAt10VsExact: found / (10 * queries.length),
        goldAt10: gold / queries.length,
        meanCosineLossAt10: mean(loss),
        latencyMs: lat,
        p50SpeedupOverExact: exactLatency.p50 / lat.p50,
      };
    }
    r.setEfSearch(HNSW_DEFAULTS.efSearch);
    log(`bench retrieve ann: ${real.length + generated} vectors: ${JSON.stringify({ exact: exactLatency, hnsw: ann })}`);
    rows.push({
      vectors: real.length + generated,
      realAbstracts: real.length,
      generated,
      queries: queries.length,
      addSecondsCumulative: addSeconds,
      exact: { goldAt10: exactGold / queries.length, meanTop10CosineSpread: spread, latencyMs: exactLatency },
      hnsw: ann,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    });
  }
  const t0 = performance.now();
  await r.close();
  return {
    generator: 'normalize(w·a + (1−w)·b + N(0, (0.5²/dim)·I)), a, b random real abstract vectors, w ~ U[0,1], seed 7',
    params: { M: r.params.M, efConstruction: r.params.efConstruction, efSearchDefault: HNSW_DEFAULTS.efSearch },
    saveSeconds: (performance.now() - t0) / 1000,
    rows,
  };
}

/** A sampler of the store's words by their frequency: `u` uniform in [0, 1) picks a word (binary search of the CDF). */
export function unigramSampler(store: CorpusStore): (u: number) => string {
  const counts = new Map<string, number>();
  for (const d of store.iterate()) for (const w of d.text.split(/\s+/)) if (w) counts.set(w, (counts.get(w) ?? 0) + 1);
  const vocab = [...counts.keys()];
  const cumulative = new Float64Array(vocab.length);
  let sum = 0;
  vocab.forEach((w, i) => {
    sum += counts.get(w) ?? 0;
    cumulative[i] = sum;
  });
  return (u) => {
    const target = u * sum;
    let lo = 0;
    let hi = vocab.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] <= target) lo = mid + 1;
      else hi = mid;
    }
    return vocab[lo];
  };
}
