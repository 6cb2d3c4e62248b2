import { Client, type estypes } from '@elastic/elasticsearch';
import {
  checkFilterKeys,
  type Document,
  FIELD_NAMES,
  type FieldWeights,
  type Metadata,
  probeServer,
  type RemoteOptions,
  type RemoteTarget,
  type Retriever,
  remoteCall,
  resolveFieldWeights,
  resolveRemote,
  type SearchHit,
  type SearchOptions,
} from '@rg/retriever';

export interface ElasticsearchOptions {
  /** e.g. http://localhost:9200 (RG_ES_URL). */
  url: string;
  index: string;
  /** API key, from the environment (RG_ES_API_KEY); never logged. */
  apiKey?: string;
  /** Documents per bulk request. */
  bulkSize?: number;
  /** Attempts for documents the cluster rejects as overloaded (HTTP 429), with doubling waits. */
  maxAttempts?: number;
  /** First wait before retrying rejected documents, in ms. */
  backoffMs?: number;
  /** Start from an empty index: delete it first if it exists. */
  recreate?: boolean;
  /** When false, a missing index is an error instead of being created. Default true. */
  createIfMissing?: boolean;
  /** Timeouts and retries of every request (see @rg/retriever's remote.ts). */
  remote?: RemoteOptions;
  /**
   * Field boosts. Stored in the mapping's `_meta` of an index this open creates, so later searches use them;
   * given when opening an existing index, they apply to this instance's searches only.
   */
  fieldWeights?: Partial<FieldWeights>;
}

/**
 * Index settings: BM25 (Elasticsearch's default similarity, k1 1.2, b 0.75) over an analyzer that
 * mirrors the SQLite backend's: standard tokenizer, lowercase, accent folding, English stopwords,
 * Porter stemming. Metadata strings are keywords (exact-match filters).
 */
export const ES_INDEX_SETTINGS: { settings: estypes.IndicesIndexSettings; mappings: estypes.MappingTypeMapping } = {
  settings: {
    analysis: {
      analyzer: {
        rg_english: { type: 'custom', tokenizer: 'standard', filter: ['lowercase', 'asciifolding', 'english_stop', 'porter_stem'] },
      },
      filter: { english_stop: { type: 'stop', stopwords: '_english_' } },
    },
  },
  mappings: {
    dynamic_templates: [{ metadata_strings: { path_match: 'metadata.*', match_mapping_type: 'string', mapping: { type: 'keyword' } } }],
    properties: {
      title: { type: 'text', analyzer: 'rg_english' },
      text: { type: 'text', analyzer: 'rg_english' },
      tags: { type: 'text', analyzer: 'rg_english' },
      description: { type: 'text', analyzer: 'rg_english' },
      metadata: { type: 'object' },
    },
  },
};

/** The document as indexed: tags and description are fields of their own (empty when the document has none). */
export function esSource(doc: Document): Record<string, unknown> {
  return { title: doc.title ?? '', text: doc.text, tags: doc.tags ?? [], description: doc.description ?? '', metadata: doc.metadata ?? {} };
}

/**
 * The query: a most_fields multi_match summing each field's BM25 times its boost (title and text at 1 are the query
 * this backend ran before tags). Fields weighted 0 or not in the index's mapping are left out.
 */
export function esSearchQuery(text: string, filter: Metadata | undefined, weights: FieldWeights, mapped: ReadonlySet<string>): object {
  checkFilterKeys(filter);
  const fields = FIELD_NAMES.filter((f) => weights[f] > 0 && mapped.has(f)).map((f) => `${f}^${weights[f]}`);
  return {
    bool: {
      must: { multi_match: { query: text, fields, type: 'most_fields' } },
      filter: Object.entries(filter ?? {}).map(([k, v]) => ({ term: { [`metadata.${k}`]: v } })),
    },
  };
}

/** BM25 in Elasticsearch: bulk indexing, retried rejections with backoff, msearch for batches. */
export class ElasticsearchRetriever implements Retriever {
  readonly backend = 'elasticsearch';
  private readonly client: Client;
  /** Fields the index maps: all of FIELD_NAMES, except in an index built before tags. */
  private mapped: Set<string> = new Set(FIELD_NAMES);
  private weights: FieldWeights;

  private constructor(
    private readonly opts: ElasticsearchOptions,
    client: Client,
  ) {
    this.client = client;
    this.weights = resolveFieldWeights(opts.fieldWeights);
  }

  /** The field boosts this instance searches with. */
  fieldWeights(): FieldWeights {
    return { ...this.weights };
  }

  /** Probe the server, connect, and create the index with ES_INDEX_SETTINGS when it does not exist. */
  static async open(opts: ElasticsearchOptions): Promise<ElasticsearchRetriever> {
    // A bad weight is a usage error: say so before waiting on a server.
    resolveFieldWeights(opts.fieldWeights);
    const remote = resolveRemote(opts.remote);
    const target: RemoteTarget = { backend: 'elasticsearch', url: opts.url };
    await probeServer(target, remote, opts.apiKey ? { authorization: `ApiKey ${opts.apiKey}` } : {});
    // Retries are remoteCall's (bounded, short waits); the client's own back off for ~17 s on a refused port.
    const client = new Client({
      node: opts.url,
      maxRetries: 0,
      requestTimeout: remote.requestTimeoutMs,
      ...(opts.apiKey ? { auth: { apiKey: opts.apiKey } } : {}),
    });
    const retriever = new ElasticsearchRetriever(opts, client);
    try {
      if (opts.recreate)
        await retriever.call('delete the index', () => client.indices.delete({ index: opts.index, ignore_unavailable: true }));
      if (!(await retriever.call('look up the index', () => client.indices.exists({ index: opts.index })))) {
        if (opts.createIfMissing === false) throw new Error(`elasticsearch at ${opts.url}: no index "${opts.index}"`);
        const mappings = { ...ES_INDEX_SETTINGS.mappings, _meta: { rg_field_weights: retriever.weights } };
        await retriever.call('create the index', () => client.indices.create({ index: opts.index, ...ES_INDEX_SETTINGS, mappings }));
      } else {
        await retriever.readFields();
      }
    } catch (e) {
      await client.close();
      throw e;
    }
    return retriever;
  }

  /** An existing index: its mapped fields (one built before tags lacks two) and, unless given, its stored boosts. */
  private async readFields(): Promise<void> {
    const response = await this.call('read the mapping', () => this.client.indices.getMapping({ index: this.opts.index }));
    const mapping = Object.values(response)[0]?.mappings;
    const stored = mapping?._meta?.rg_field_weights as Partial<FieldWeights> | undefined;
    this.mapped = new Set(Object.keys(mapping?.properties ?? {}));
    // An index created before boosts were stored searched title and text at 1, which the defaults keep.
    this.weights = resolveFieldWeights({ ...stored, ...this.opts.fieldWeights });
  }

  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return remoteCall(
      { backend: 'elasticsearch', url: this.opts.url },
      `${what} (index ${this.opts.index})`,
      resolveRemote(this.opts.remote),
      fn,
    );
  }

  async add(docs: Document[]): Promise<void> {
    const tagged = docs.find((d) => (d.tags?.length ?? 0) > 0 || (d.description ?? '') !== '');
    if (tagged && !(this.mapped.has('tags') && this.mapped.has('description')))
      throw new Error(
        `elasticsearch ${this.opts.index}: document "${tagged.id}" has tags or a description, but the index was built before ` +
          'tags and descriptions were mapped: rebuild the index (`rg index build --store STORE --backend elasticsearch`)',
      );
    const size = this.opts.bulkSize ?? 500;
    for (let i = 0; i < docs.length; i += size) {
      await this.bulk(
        docs.slice(i, i + size).map((d) => ({
          id: d.id,
          action: { index: { _index: this.opts.index, _id: d.id } },
          source: esSource(d),
        })),
      );
    }
    await this.call('refresh', () => this.client.indices.refresh({ index: this.opts.index }));
  }

  async delete(ids: string[]): Promise<void> {
    await this.bulk(ids.map((id) => ({ id, action: { delete: { _index: this.opts.index, _id: id } } })));
    await this.call('refresh', () => this.client.indices.refresh({ index: this.opts.index }));
  }

  /** Send operations; resend the ones rejected with 429 after a doubling wait; fail on any other error. */
  private async bulk(ops: Array<{ id: string; action: object; source?: object }>): Promise<void> {
    let pending = ops;
    let wait = this.opts.backoffMs ?? 200;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const operations = pending.flatMap((o) => (o.source ? [o.action, o.source] : [o.action]));
      const response = await this.call('bulk write', () => this.client.bulk({ operations }));
      const retry: typeof pending = [];
      response.items.forEach((item, i) => {
        const result = Object.values(item)[0];
        if (!result?.error || (result.status === 404 && 'delete' in item)) return;
        if (result.status === 429 && attempt < (this.opts.maxAttempts ?? 5)) retry.push(pending[i]);
        else
          throw new Error(
            `elasticsearch ${this.opts.index}: document "${pending[i].id}": ${result.error.type}: ${result.error.reason ?? ''}`,
          );
      });
      pending = retry;
      if (pending.length > 0) {
        await new Promise((r) => setTimeout(r, wait));
        wait *= 2;
      }
    }
  }

  private query(text: string, filter: Metadata | undefined): object {
    return esSearchQuery(text, filter, this.weights, this.mapped);
  }

  async search(query: string, opts: SearchOptions): Promise<SearchHit[]> {
    const body = { index: this.opts.index, size: opts.k, query: this.query(query, opts.filter), _source: false };
    const response = await this.call('search', () => this.client.search(body));
    return response.hits.hits.map((h) => ({ id: h._id as string, score: h._score ?? 0 }));
  }

  async searchBatch(queries: string[], opts: SearchOptions): Promise<SearchHit[][]> {
    if (queries.length === 0) return [];
    const searches = queries.flatMap((q) => [
      { index: this.opts.index },
      { size: opts.k, query: this.query(q, opts.filter), _source: false },
    ]);
    const response = await this.call('multi-search', () => this.client.msearch({ searches }));
    return response.responses.map((r, i) => {
      if ('error' in r) throw new Error(`elasticsearch ${this.opts.index}: query ${i}: ${r.error.type}: ${r.error.reason ?? ''}`);
      return r.hits.hits.map((h) => ({ id: h._id as string, score: h._score ?? 0 }));
    });
  }

  async count(): Promise<number> {
    return (await this.call('count', () => this.client.count({ index: this.opts.index }))).count;
  }

  /** Remove the whole index (tests use a fresh one per run). */
  async dropIndex(): Promise<void> {
    await this.call('delete the index', () => this.client.indices.delete({ index: this.opts.index, ignore_unavailable: true }));
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
