import { createHash } from 'node:crypto';
import { QdrantClient } from '@qdrant/js-client-rest';
import {
  checkFilterKeys,
  type Document,
  type Embedder,
  type Metadata,
  passageText,
  probeServer,
  type RemoteOptions,
  type Retriever,
  remoteCall,
  resolveRemote,
  type SearchHit,
  type SearchOptions,
} from '@rg/retriever';

export interface QdrantOptions {
  /** e.g. http://localhost:6333 (RG_QDRANT_URL). */
  url: string;
  collection: string;
  embedder: Embedder;
  /** API key, from the environment (RG_QDRANT_API_KEY); never logged. */
  apiKey?: string;
  /** Points per upsert request. */
  batchSize?: number;
  /** Start from an empty collection: delete it first if it exists. */
  recreate?: boolean;
  /** When false, a missing collection is an error instead of being created. Default true. */
  createIfMissing?: boolean;
  /** Close the embedder with the retriever (when the retriever's opener created it). */
  ownsEmbedder?: boolean;
  /** Timeouts and retries of every request (see @rg/retriever's remote.ts). */
  remote?: RemoteOptions;
}

/** Qdrant point ids are unsigned integers or UUIDs: a document id maps to a stable UUID-shaped hash. */
export function pointId(docId: string): string {
  const h = createHash('sha256').update(docId).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Dense retrieval in Qdrant (cosine). Each point's payload carries the document id, its cluster id
 * (metadata `cluster_id`, set by clustering; null when absent) and its metadata, so search results
 * and filters need no second lookup.
 */
export class QdrantRetriever implements Retriever {
  readonly backend = 'qdrant';

  private constructor(
    private readonly opts: QdrantOptions,
    private readonly client: QdrantClient,
  ) {}

  /** Probe the server, connect, and create the collection (and a keyword index on doc_id) when it does not exist. */
  static async open(opts: QdrantOptions): Promise<QdrantRetriever> {
    const remote = resolveRemote(opts.remote);
    await probeServer({ backend: 'qdrant', url: opts.url }, remote, opts.apiKey ? { 'api-key': opts.apiKey } : {});
    // The client's own default is 300 s per request: a silent server would hang every call that long.
    const client = new QdrantClient({
      url: opts.url,
      ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
      checkCompatibility: false,
      timeout: remote.requestTimeoutMs,
    });
    const r = new QdrantRetriever(opts, client);
    const c = opts.collection;
    if (opts.recreate && (await r.call('look up the collection', () => client.collectionExists(c))).exists)
      await r.call('delete the collection', () => client.deleteCollection(c));
    if (!(await r.call('look up the collection', () => client.collectionExists(c))).exists) {
      if (opts.createIfMissing === false) throw new Error(`qdrant at ${opts.url}: no collection "${c}"`);
      await r.call('create the collection', () => client.createCollection(c, { vectors: { size: opts.embedder.dim, distance: 'Cosine' } }));
      await r.call('index doc_id', () => client.createPayloadIndex(c, { field_name: 'doc_id', field_schema: 'keyword', wait: true }));
    }
    return r;
  }

  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return remoteCall(
      { backend: 'qdrant', url: this.opts.url },
      `${what} (collection ${this.opts.collection})`,
      resolveRemote(this.opts.remote),
      fn,
    );
  }

  async add(docs: Document[]): Promise<void> {
    const size = this.opts.batchSize ?? 256;
    for (let i = 0; i < docs.length; i += size) {
      const batch = docs.slice(i, i + size);
      const vectors = await this.opts.embedder.embed(batch.map(passageText));
      const points = batch.map((d, j) => ({
        id: pointId(d.id),
        vector: Array.from(vectors[j]),
        payload: { doc_id: d.id, cluster_id: d.metadata?.cluster_id ?? null, metadata: d.metadata ?? {} },
      }));
      // An upsert by id: a retried one writes the same points again.
      await this.call('upsert', () => this.client.upsert(this.opts.collection, { wait: true, points }));
    }
  }

  async delete(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.call('delete points', () => this.client.delete(this.opts.collection, { wait: true, points: ids.map(pointId) }));
  }

  private filter(filter: Metadata | undefined): object | undefined {
    checkFilterKeys(filter);
    const entries = Object.entries(filter ?? {});
    return entries.length === 0 ? undefined : { must: entries.map(([k, v]) => ({ key: `metadata.${k}`, match: { value: v } })) };
  }

  private hits(points: Array<{ score: number; payload?: Record<string, unknown> | null }>): SearchHit[] {
    return points.map((p) => ({ id: String(p.payload?.doc_id), score: p.score }));
  }

  async search(query: string, opts: SearchOptions): Promise<SearchHit[]> {
    return (await this.searchBatch([query], opts))[0];
  }

  async searchBatch(queries: string[], opts: SearchOptions): Promise<SearchHit[][]> {
    if (queries.length === 0) return [];
    const vectors = await this.opts.embedder.embed(queries);
    const filter = this.filter(opts.filter);
    const searches = vectors.map((v) => ({
      vector: Array.from(v),
      limit: opts.k,
      with_payload: ['doc_id'],
      ...(filter ? { filter } : {}),
    }));
    const results = await this.call('search', () => this.client.searchBatch(this.opts.collection, { searches }));
    return results.map((r) => this.hits(r));
  }

  async count(): Promise<number> {
    return (await this.call('count', () => this.client.count(this.opts.collection, { exact: true }))).count;
  }

  /** Remove the whole collection (tests use a fresh one per run). */
  async dropCollection(): Promise<void> {
    await this.call('delete the collection', () => this.client.deleteCollection(this.opts.collection));
  }

  async close(): Promise<void> {
    if (this.opts.ownsEmbedder) await this.opts.embedder.close?.();
  }
}
