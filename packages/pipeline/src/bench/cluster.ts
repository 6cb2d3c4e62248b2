import { fitClusters, routeQuery, silhouetteScore } from '@rg/clustering';
import { type CorpusStore, type Question, readQuestions } from '@rg/corpus';
import { MINILM, SentenceEncoder } from '@rg/engine';
import { EmbeddingCache, type TextEmbedder } from '../cluster-embeddings.js';
import { BenchInputError } from './errors.js';

export interface ClusterBenchOptions {
  /** The store of the PubMedQA abstracts (ingested as pubmedqa), opened and closed by the caller. */
  store: CorpusStore;
  /** PubMedQA PQA-L's ori_pqal.json: the questions. */
  input: string;
  /** Numbers of clusters, one fit each. */
  kValues: readonly number[];
  /** Clusters routed per question. */
  topC: readonly number[];
  /** The k-means seed. */
  seed: number;
  /** Where models live (the sentence encoder). */
  home: string;
  threads: number;
  /** The embedder and the model name its vectors are cached under: MiniLM from `home` unless given (tests pass a stand-in). */
  encoder?: { model: string; embedder: TextEmbedder };
}

export const CLUSTER_BENCH_DEFAULTS = { kValues: [10, 50, 100], topC: [1, 3], seed: 0 } as const satisfies Partial<ClusterBenchOptions>;

/** One k: routing hit rates and chance keyed `top<c>`, and the fit. */
export interface ClusterFigures {
  k: number;
  routing: Record<string, number>;
  chance: Record<string, number>;
  inertia: number;
  /** Null above 5,000 documents, where its all-pairs distances would cost more than the fits. */
  silhouette: number | null;
  sizes: { min: number; max: number };
  iterations: number;
  converged: boolean;
  fitSeconds: number;
  fitCpuSeconds: number;
}

export interface ClusterBenchResult {
  corpus: { store: string; documents: number; questions: number; gold: string };
  encoder: { model: string; documentsEmbeddedNow: number; documentEmbedSeconds: number; questionEmbedSeconds: number };
  seed: number;
  results: ClusterFigures[];
}

/**
 * How well cluster routing finds a question's document on PubMedQA PQA-L (gold = the question's own abstract): for
 * each k, the share of questions whose abstract is in one of the top-c clusters the question is routed to (cosine to
 * the centroids, as `cluster` inference routes), beside chance (c/k), inertia, silhouette and fit time. Documents are
 * embedded through the store's embedding cache; clusters are fitted in memory: the store's saved clusters are not
 * touched. Questions whose abstract is not in the store are left out; none left is a BenchInputError.
 */
export async function clusterBench(options: ClusterBenchOptions, say: (line: string) => void = () => {}): Promise<ClusterBenchResult> {
  const { store, kValues, topC, seed } = options;
  const model = options.encoder?.model ?? MINILM.name;
  const embedder =
    options.encoder?.embedder ?? (await SentenceEncoder.miniLM(options.home, { threads: options.threads, log: (l) => say(l) }));
  try {
    const cache = EmbeddingCache.open(store, model);
    const t0 = performance.now();
    const embedded = await cache.fill(embedder, { batchSize: 32 });
    const documentEmbedSeconds = (performance.now() - t0) / 1000;
    const items = [...cache.scan()];
    const questions: Question[] = [];
    for await (const q of readQuestions(options.input, 'pubmedqa')) if (q.question) questions.push(q.question);
    const ids = new Set(items.map((it) => it.id));
    const known = questions.filter((q) => ids.has(q.id));
    if (known.length === 0) throw new BenchInputError(`no question of ${options.input} has its abstract (same id) in ${store.dir}`);
    const t1 = performance.now();
    const queryVectors = await embedder.embed(known.map((q) => q.text));
    const questionEmbedSeconds = (performance.now() - t1) / 1000;

    const results: ClusterFigures[] = [];
    for (const k of kValues) {
      const cpu0 = process.cpuUsage();
      const t = performance.now();
      const fitted = await fitClusters(items, { k, seed, representatives: 0 });
      const fitSeconds = (performance.now() - t) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const hits = new Map(topC.map((c) => [c, 0]));
      known.forEach((q, i) => {
        const routed = routeQuery(fitted.centroids, queryVectors[i], { topC: Math.max(...topC) }).map((r) => r.cluster);
        const rank = routed.indexOf(fitted.assignments.get(q.id) as number);
        for (const c of topC) if (rank !== -1 && rank < c) hits.set(c, (hits.get(c) ?? 0) + 1);
      });
      const labels = items.map((it) => fitted.assignments.get(it.id) as number);
      const figures: ClusterFigures = {
        k,
        routing: Object.fromEntries(topC.map((c) => [`top${c}`, (hits.get(c) ?? 0) / known.length])),
        chance: Object.fromEntries(topC.map((c) => [`top${c}`, Math.min(c, k) / k])),
        inertia: fitted.inertia,
        silhouette:
          items.length <= 5000
            ? silhouetteScore(
                items.map((it) => it.vector),
                labels,
              )
            : null,
        sizes: { min: Math.min(...fitted.sizes), max: Math.max(...fitted.sizes) },
        iterations: fitted.iterations,
        converged: fitted.converged,
        fitSeconds,
        fitCpuSeconds: (cpu.user + cpu.system) / 1e6,
      };
      results.push(figures);
      say(`k=${k}: routing top-1 ${(figures.routing.top1 ?? 0).toFixed(3)}`);
    }
    return {
      corpus: { store: store.dir, documents: items.length, questions: known.length, gold: 'the question’s own abstract' },
      encoder: { model, documentsEmbeddedNow: embedded, documentEmbedSeconds, questionEmbedSeconds },
      seed,
      results,
    };
  } finally {
    if (!options.encoder && embedder instanceof SentenceEncoder) await embedder.close();
  }
}
