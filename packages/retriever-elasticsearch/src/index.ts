export { type ElasticsearchOptions, ElasticsearchRetriever, ES_INDEX_SETTINGS } from './elasticsearch.js';
export { elasticsearchBackend, registerElasticsearch } from './plugin.js';
