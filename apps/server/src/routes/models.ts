import type { FastifyInstance } from 'fastify';
import { modelId } from '../collections.js';
import type { ServedCollections } from '../deps.js';

/** GET /v1/models: one model per collection, in OpenAI's list shape, with what a client may want to show. */
export function modelRoutes(app: FastifyInstance, served: ServedCollections, startedAt: number): void {
  app.get('/v1/models', async () => ({
    object: 'list',
    data: [...served.collections].map(([name, collection]) => ({
      id: modelId(name),
      object: 'model',
      created: startedAt,
      owned_by: 'rg',
      rg: {
        collection: name,
        default: name === served.defaultCollection,
        base_model: served.modelName,
        documents: collection.documentCount(),
        backend: collection.settings.backend,
        defaults: collection.settings.answer,
      },
    })),
  }));
}
