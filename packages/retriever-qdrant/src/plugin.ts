import { type BackendPlugin, probeServer, registerRetrieverBackend, resolveRemote, serverIndexName, serverUrl } from '@rg/retriever';
import { QdrantRetriever } from './qdrant.js';

/**
 * The `qdrant` backend of `openRetriever`: the store's collection (`serverIndexName`) on the server of RG_QDRANT_URL,
 * with RG_QDRANT_API_KEY, holding the vectors of the caller's embedder (default all-MiniLM-L6-v2). A build starts
 * the collection afresh; any other open needs it to exist.
 */
export const qdrantBackend: BackendPlugin = {
  name: 'qdrant',
  open: async ({ storeDir, build, env, remote, embedder }) => {
    const url = serverUrl(env, 'qdrant');
    const apiKey = env?.RG_QDRANT_API_KEY;
    // Probe before loading the encoder: a dead server should fail in seconds, not after a model load.
    await probeServer({ backend: 'qdrant', url }, resolveRemote(remote), apiKey ? { 'api-key': apiKey } : {});
    const vectors = await embedder();
    try {
      return await QdrantRetriever.open({
        url,
        apiKey,
        collection: serverIndexName(storeDir),
        embedder: vectors,
        ownsEmbedder: true,
        recreate: build,
        createIfMissing: build === true,
        remote,
      });
    } catch (e) {
      await vectors.close?.();
      throw e;
    }
  },
};

/** Makes `openRetriever('qdrant', ...)` open this backend. Call it once at start; calling it again is harmless. */
export function registerQdrant(): void {
  registerRetrieverBackend(qdrantBackend);
}
