import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SentenceEncoder } from '@rg/engine';
import { openRetriever, type Retriever } from '@rg/retriever';
import { retrieverContract } from '@rg/retriever/testing';
import { describe, expect, it } from 'vitest';
import { registerQdrant } from './plugin.js';
import { pointId, QdrantRetriever } from './qdrant.js';

const url = process.env.RG_QDRANT_URL;
const skip = { skip: 'RG_QDRANT_URL is not set: no Qdrant server on this machine (see packages/retriever-qdrant/README.md to run one)' };
const home = process.env.RG_HOME || join(homedir(), '.cache', 'rg');
registerQdrant();

/** The contract retriever, dropping its throw-away collection when the suite closes it (and the encoder with it). */
function dropping(r: QdrantRetriever): Retriever {
  return {
    backend: r.backend,
    add: (d) => r.add(d),
    delete: (ids) => r.delete(ids),
    search: (q, o) => r.search(q, o),
    searchBatch: (q, o) => r.searchBatch(q, o),
    count: () => r.count(),
    close: async () => {
      await r.dropCollection();
      await r.close();
    },
  };
}

async function fresh(serverUrl: string): Promise<Retriever> {
  const encoder = await SentenceEncoder.miniLM(home, { threads: 2 });
  return dropping(
    await QdrantRetriever.open({
      url: serverUrl,
      collection: `rg-contract-${process.pid}-${Date.now()}`,
      embedder: encoder,
      ownsEmbedder: true,
      apiKey: process.env.RG_QDRANT_API_KEY,
    }),
  );
}

/** As the CLI opens it: by name, through the registered plug-in, building the collection of a throw-away store. */
async function registered(serverUrl: string): Promise<Retriever> {
  const storeDir = join(tmpdir(), `rg-contract-${process.pid}-${Date.now()}`);
  const env = { RG_QDRANT_URL: serverUrl, RG_QDRANT_API_KEY: process.env.RG_QDRANT_API_KEY };
  return dropping((await openRetriever('qdrant', { storeDir, build: true, home, threads: 2, env })) as QdrantRetriever);
}

retrieverContract('qdrant (dense)', url ? () => fresh(url) : skip);
retrieverContract('qdrant plug-in (openRetriever)', url ? () => registered(url) : skip);

describe('qdrant point ids', () => {
  it('maps a document id to a stable UUID-shaped id', () => {
    expect(pointId('21645374')).toBe(pointId('21645374'));
    expect(pointId('21645374')).not.toBe(pointId('21645375'));
    expect(pointId('any id / with spaces')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });
});
