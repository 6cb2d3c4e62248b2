import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_FIELD_WEIGHTS, FIELD_NAMES, type FieldWeights, openRetriever, type Retriever } from '@rg/retriever';
import { fieldsContract, retrieverContract } from '@rg/retriever/testing';
import { describe, expect, it } from 'vitest';
import { ElasticsearchRetriever, esSearchQuery, esSource } from './elasticsearch.js';
import { registerElasticsearch } from './plugin.js';

const url = process.env.RG_ES_URL;
const skip = {
  skip: 'RG_ES_URL is not set: no Elasticsearch server on this machine (see packages/retriever-elasticsearch/README.md to run one)',
};
registerElasticsearch();

/** The contract retriever, dropping its throw-away index when the suite closes it. */
function dropping(r: ElasticsearchRetriever): Retriever {
  return {
    backend: r.backend,
    add: (d) => r.add(d),
    delete: (ids) => r.delete(ids),
    search: (q, o) => r.search(q, o),
    searchBatch: (q, o) => r.searchBatch(q, o),
    count: () => r.count(),
    close: async () => {
      await r.dropIndex();
      await r.close();
    },
  };
}

async function fresh(serverUrl: string, fieldWeights?: Partial<FieldWeights>): Promise<Retriever> {
  return dropping(
    await ElasticsearchRetriever.open({
      url: serverUrl,
      index: `rg-contract-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
      apiKey: process.env.RG_ES_API_KEY,
      fieldWeights,
    }),
  );
}

/** As the CLI opens it: by name, through the registered plug-in, building the index of a throw-away store. */
async function registered(serverUrl: string): Promise<Retriever> {
  const storeDir = join(tmpdir(), `rg-contract-${process.pid}-${Date.now()}`);
  const env = { RG_ES_URL: serverUrl, RG_ES_API_KEY: process.env.RG_ES_API_KEY };
  return dropping((await openRetriever('elasticsearch', { storeDir, build: true, env })) as ElasticsearchRetriever);
}

retrieverContract('elasticsearch (BM25)', url ? () => fresh(url) : skip);
retrieverContract('elasticsearch plug-in (openRetriever)', url ? () => registered(url) : skip);
fieldsContract('elasticsearch (BM25)', url ? (fieldWeights) => fresh(url, fieldWeights) : skip);

// What the backend sends, checked without a server: the contract suites above need one.
describe('elasticsearch query and document body', () => {
  const all = new Set(FIELD_NAMES);
  const fieldsOf = (q: object) => (q as { bool: { must: { multi_match: { fields: string[] } } } }).bool.must.multi_match.fields;

  it('boosts each field by its weight; title and text at 1 as before tags', () => {
    expect(fieldsOf(esSearchQuery('q', undefined, { ...DEFAULT_FIELD_WEIGHTS }, all))).toEqual([
      'text^1',
      'title^1',
      'tags^0.5',
      'description^0.5',
    ]);
  });

  it('leaves out fields weighted 0 and fields an index built before tags does not map', () => {
    const w = { text: 1, title: 2, tags: 0, description: 0.3 };
    expect(fieldsOf(esSearchQuery('q', undefined, w, all))).toEqual(['text^1', 'title^2', 'description^0.3']);
    expect(fieldsOf(esSearchQuery('q', undefined, w, new Set(['title', 'text', 'metadata'])))).toEqual(['text^1', 'title^2']);
  });

  it('keeps metadata filters as term filters and refuses a bad key', () => {
    const q = esSearchQuery('q', { kind: 'drug' }, { ...DEFAULT_FIELD_WEIGHTS }, all) as { bool: { filter: unknown[] } };
    expect(q.bool.filter).toEqual([{ term: { 'metadata.kind': 'drug' } }]);
    expect(() => esSearchQuery('q', { 'a.b': 1 }, { ...DEFAULT_FIELD_WEIGHTS }, all)).toThrow(/filter key "a.b"/);
  });

  it('indexes tags and description as their own fields, empty when a document has none', () => {
    expect(esSource({ id: 'a', text: 't', title: 'T', tags: ['x', 'y'], description: 'd', metadata: { k: 1 } })).toEqual({
      title: 'T',
      text: 't',
      tags: ['x', 'y'],
      description: 'd',
      metadata: { k: 1 },
    });
    expect(esSource({ id: 'a', text: 't' })).toEqual({ title: '', text: 't', tags: [], description: '', metadata: {} });
  });

  it('names the field of a bad boost before any request', async () => {
    await expect(ElasticsearchRetriever.open({ url: 'http://127.0.0.1:9', index: 'x', fieldWeights: { tags: -2 } })).rejects.toThrow(
      'field weight "tags": expected a finite number >= 0, got -2',
    );
  });
});
