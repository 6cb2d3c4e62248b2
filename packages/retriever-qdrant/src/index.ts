export { qdrantBackend, registerQdrant } from './plugin.js';
export { pointId, type QdrantOptions, QdrantRetriever } from './qdrant.js';
