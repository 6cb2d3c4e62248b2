import { saveClusters } from '@rg/clustering';
import type { CorpusStore } from '@rg/corpus';
import { MINILM, SentenceEncoder } from '@rg/engine';
import { EmbeddingCache } from './cluster-embeddings.js';
import { type ClusterRun, type ClusterSettings, clusterStore, clustersPath } from './cluster-store.js';
import { checkVectorBackend, type VectorBackend, type WriteResult, writeClusterIds } from './cluster-vectors.js';

export interface EmbedCorpusOptions {
  /** RG_HOME, where the sentence encoder is pulled to, and the encoder's threads. */
  home: string;
  threads: number;
  /** Documents per embedding batch (default 32). */
  batchSize?: number;
}

export interface EmbedCorpusHooks {
  /** The encoder's own lines (a download). */
  onLog?: (line: string) => void;
  /** The encoder loaded, before the first batch: the documents to embed. */
  onStart?: (pending: number) => void;
  onBatch?: (documents: number) => void;
}

export interface EmbeddingSummary {
  embedded: number;
  seconds: number;
  model: string;
}

/**
 * Embeds the documents of the cache's store that have no cached vector (or a stale one) with the sentence encoder;
 * the encoder is loaded only when there are some. Resumable: each batch is saved as it is done.
 */
export async function embedCorpus(
  cache: EmbeddingCache,
  options: EmbedCorpusOptions,
  hooks: EmbedCorpusHooks = {},
): Promise<EmbeddingSummary> {
  const pending = cache.pending();
  if (pending === 0) return { embedded: 0, seconds: 0, model: cache.model };
  const encoder = await SentenceEncoder.miniLM(options.home, { threads: options.threads, log: hooks.onLog });
  hooks.onStart?.(pending);
  const t0 = performance.now();
  try {
    const embedded = await cache.fill(encoder, { batchSize: options.batchSize ?? 32, onBatch: hooks.onBatch });
    return { embedded, seconds: (performance.now() - t0) / 1000, model: cache.model };
  } finally {
    await encoder.close();
  }
}

export interface ClusterCorpusOptions extends Omit<ClusterSettings, 'save'>, EmbedCorpusOptions {
  /** Where the document ids go with their cluster ids (a search restricted to a cluster filters on them). */
  vectorBackend: VectorBackend;
  /** RG_QDRANT_URL and its key, for the qdrant backend. */
  env: NodeJS.ProcessEnv;
}

export interface ClusterCorpusHooks extends EmbedCorpusHooks {
  /** The documents embedded (also when none had to be). */
  onEmbedded?: (embedding: EmbeddingSummary) => void;
  /** k-means fitted, or the documents assigned to the saved centroids. */
  onClustered?: (run: ClusterRun) => void;
  /** Before the cluster ids are written: the clustered documents. */
  onWriteStart?: (documents: number) => void;
  onWriteBatch?: (documents: number) => void;
  /** The cluster ids written (not called when nothing changed). */
  onWritten?: (written: WriteResult) => void;
}

export interface ClusterCorpusResult {
  run: ClusterRun;
  embedding: EmbeddingSummary;
  /** null when nothing changed since the saved clusters. */
  written: WriteResult | null;
  /** The store's clusters.json. */
  file: string;
}

/**
 * The clusters of a corpus store (in `storeDir`): every document embedded (cached beside the store), k-means fitted
 * or the saved clusters updated (clusterStore), the cluster ids written to the vector backend, and only then the
 * store's clusters.json saved, so a failed write leaves the saved clusters as they were. Running it again embeds
 * and assigns only the documents added since. ClusterSettingsError when the saved clusters have other settings.
 */
export async function clusterCorpus(
  storeDir: string,
  store: CorpusStore,
  options: ClusterCorpusOptions,
  hooks: ClusterCorpusHooks = {},
): Promise<ClusterCorpusResult> {
  const { vectorBackend, env, home, threads, batchSize, ...settings } = options;
  checkVectorBackend(vectorBackend, env); // before the embedding and the fit, not after them
  const cache = EmbeddingCache.open(store, MINILM.name);
  const embedding = await embedCorpus(cache, { home, threads, batchSize }, hooks);
  hooks.onEmbedded?.(embedding);
  const run = await clusterStore(storeDir, () => cache.scan(), { ...settings, save: false });
  hooks.onClustered?.(run);
  let written: WriteResult | null = null;
  if (run.fitted || run.added + run.removed + run.moved > 0) {
    hooks.onWriteStart?.(run.model.assignments.size);
    written = await writeClusterIds(vectorBackend, storeDir, cache, run.model, { batchSize: 256, onBatch: hooks.onWriteBatch }, env);
    hooks.onWritten?.(written);
  }
  const file = clustersPath(storeDir);
  if (run.changed) saveClusters(file, run.model);
  return { run, embedding, written, file };
}
