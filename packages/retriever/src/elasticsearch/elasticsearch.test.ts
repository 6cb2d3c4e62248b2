import { retrieverContract } from '../testing/contract.js';
import type { Retriever } from '../types.js';
import { ElasticsearchRetriever } from './elasticsearch.js';

const url = process.env.RG_ES_URL;

/** The contract retriever, dropping its throw-away index when the suite closes it. */
async function fresh(serverUrl: string): Promise<Retriever> {
  const r = await ElasticsearchRetriever.open({
    url: serverUrl,
    index: `rg-contract-${process.pid}-${Date.now()}`,
    apiKey: process.env.RG_ES_API_KEY,
  });
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

retrieverContract(
  'elasticsearch (BM25)',
  url
    ? () => fresh(url)
    : { skip: 'RG_ES_URL is not set: no Elasticsearch server on this machine (see packages/retriever/README.md to run one)' },
);
