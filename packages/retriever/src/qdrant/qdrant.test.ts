import { homedir } from 'node:os';
import { join } from 'node:path';
import { SentenceEncoder } from '@rg/engine';
import { describe, expect, it } from 'vitest';
import { retrieverContract } from '../testing/contract.js';
import type { Retriever } from '../types.js';
import { pointId, QdrantRetriever } from './qdrant.js';

const url = process.env.RG_QDRANT_URL;

/** The contract retriever, dropping its throw-away collection when the suite closes it. */
async function fresh(serverUrl: string): Promise<Retriever> {
  const encoder = await SentenceEncoder.miniLM(process.env.RG_HOME || join(homedir(), '.cache', 'rg'), { threads: 2 });
  const r = await QdrantRetriever.open({
    url: serverUrl,
    collection: `rg-contract-${process.pid}-${Date.now()}`,
    embedder: encoder,
    apiKey: process.env.RG_QDRANT_API_KEY,
  });
  return {
    backend: r.backend,
    add: (d) => r.add(d),
    delete: (ids) => r.delete(ids),
    search: (q, o) => r.search(q, o),
    searchBatch: (q, o) => r.searchBatch(q, o),
    count: () => r.count(),
    close: async () => {
      await r.dropCollection();
      await encoder.close();
    },
  };
}

retrieverContract(
  'qdrant (dense)',
  url
    ? () => fresh(url)
    : { skip: 'RG_QDRANT_URL is not set: no Qdrant server on this machine (see packages/retriever/README.md to run one)' },
);

describe('qdrant point ids', () => {
  it('maps a document id to a stable UUID-shaped id', () => {
    expect(pointId('21645374')).toBe(pointId('21645374'));
    expect(pointId('21645374')).not.toBe(pointId('21645375'));
    expect(pointId('any id / with spaces')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });
});
