import { type BackendPlugin, registerRetrieverBackend, serverIndexName, serverUrl } from '@rg/retriever';
import { ElasticsearchRetriever } from './elasticsearch.js';

/**
 * The `elasticsearch` backend of `openRetriever`: the store's index (`serverIndexName`) on the server of RG_ES_URL,
 * with RG_ES_API_KEY. A build starts the index afresh; any other open needs it to exist.
 */
export const elasticsearchBackend: BackendPlugin = {
  name: 'elasticsearch',
  open: async ({ storeDir, build, env, remote, fieldWeights }) =>
    ElasticsearchRetriever.open({
      url: serverUrl(env, 'elasticsearch'),
      apiKey: env?.RG_ES_API_KEY,
      index: serverIndexName(storeDir),
      recreate: build,
      createIfMissing: build === true,
      remote,
      fieldWeights,
    }),
};

/** Makes `openRetriever('elasticsearch', ...)` open this backend. Call it once at start; calling it again is harmless. */
export function registerElasticsearch(): void {
  registerRetrieverBackend(elasticsearchBackend);
}
