import { ClusteringInputError, type ClusterModel } from '@rg/clustering';
import {
  type Document,
  type Embedder,
  indexFiles,
  passageText,
  type Retriever,
  remoteOptionsFromEnv,
  SqliteVecRetriever,
  serverIndexName,
} from '@rg/retriever';
import { QdrantRetriever } from '@rg/retriever-qdrant';
import type { EmbeddingCache } from './cluster-embeddings.js';

/** Where document vectors with their cluster ids go: a Qdrant server, or the store's embedded dense index. */
export const VECTOR_BACKENDS = ['qdrant', 'embedded'] as const;
export type VectorBackend = (typeof VECTOR_BACKENDS)[number];

/** The metadata key of a document's cluster; the Qdrant backend also lifts it into the point payload. */
export const CLUSTER_KEY = 'cluster_id';

/** A vector backend that needs a server it has not been given (the qdrant one without RG_QDRANT_URL): ClusteringInputError. */
export function checkVectorBackend(backend: VectorBackend, env: NodeJS.ProcessEnv): void {
  if (backend === 'qdrant' && !env.RG_QDRANT_URL)
    throw new ClusteringInputError('--backend qdrant needs a server: set RG_QDRANT_URL (e.g. http://localhost:6333)');
}

export function defaultVectorBackend(env: NodeJS.ProcessEnv): VectorBackend {
  return env.RG_QDRANT_URL ? 'qdrant' : 'embedded';
}

/**
 * An Embedder that answers from vectors already computed (the cache), so writing cluster ids into a dense
 * backend does not run the encoder again. It only knows the texts of the page it was given.
 */
class PageEmbedder implements Embedder {
  private page = new Map<string, Float32Array>();
  constructor(readonly dim: number) {}

  set(entries: Array<[string, Float32Array]>): void {
    this.page = new Map(entries);
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => {
      const v = this.page.get(t);
      if (!v) throw new Error('internal: a text without a cached vector was sent to the vector backend');
      return v;
    });
  }
}

export interface WriteResult {
  backend: VectorBackend;
  /** Where the vectors went (a file or a server). */
  target: string;
  documents: number;
}

/**
 * Writes every clustered document (its cached vector; payload: document id and cluster id) into the vector backend
 * through the retriever interface, so a search can be restricted to a cluster with the filter { cluster_id: c }.
 */
export async function writeClusterIds(
  backend: VectorBackend,
  storeDir: string,
  cache: EmbeddingCache,
  model: ClusterModel,
  opts: { batchSize: number; onBatch?: (n: number) => void },
  env: NodeJS.ProcessEnv,
): Promise<WriteResult> {
  const embedder = new PageEmbedder(model.dims);
  let retriever: Retriever;
  let target: string;
  if (backend === 'embedded') {
    target = indexFiles(storeDir, 'dense')[0];
    retriever = new SqliteVecRetriever(target, embedder);
  } else {
    const url = env.RG_QDRANT_URL;
    if (!url) throw new Error('the qdrant vector backend needs a server: set RG_QDRANT_URL (e.g. http://localhost:6333)');
    // The collection `rg index build --backend qdrant` uses for this store; created if missing.
    const collection = serverIndexName(storeDir);
    target = `${url} collection ${collection}`;
    retriever = await QdrantRetriever.open({
      url,
      apiKey: env.RG_QDRANT_API_KEY,
      collection,
      embedder,
      batchSize: opts.batchSize,
      remote: remoteOptionsFromEnv(env),
    });
  }
  let documents = 0;
  try {
    for (const page of cache.pages(opts.batchSize)) {
      const docs: Document[] = [];
      const vectors: Array<[string, Float32Array]> = [];
      for (const { doc, vector } of page) {
        const cluster = model.assignments.get(doc.id);
        if (cluster === undefined) continue;
        docs.push({ id: doc.id, title: doc.title, text: doc.text, metadata: { ...doc.metadata, [CLUSTER_KEY]: cluster } });
        vectors.push([passageText(doc), vector]);
      }
      embedder.set(vectors);
      await retriever.add(docs);
      documents += docs.length;
      opts.onBatch?.(page.length);
    }
  } finally {
    await retriever.close();
  }
  return { backend, target, documents };
}
