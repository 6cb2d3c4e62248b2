import type { FastifyInstance } from 'fastify';
import { collectionForModel, modelId } from '../collections.js';
import type { ServedCollections } from '../deps.js';
import { type GenerationContext, runGeneration } from '../generation.js';
import { type ChatCompletionBody, type CompletionBody, chatCompletionBody, completionBody } from '../schemas.js';
import { chatAsk, completionAsk } from '../to-answer.js';

/** POST /v1/chat/completions and POST /v1/completions: one collection answers, streamed or not. */
export function completionRoutes(app: FastifyInstance, served: ServedCollections, ctx: GenerationContext): void {
  app.post<{ Body: ChatCompletionBody }>('/v1/chat/completions', { schema: { body: chatCompletionBody } }, async (request, reply) => {
    const body = request.body;
    const { name, collection } = collectionForModel(served, body.model);
    return runGeneration(ctx, reply, {
      endpoint: 'chat',
      collectionName: name,
      collection,
      model: modelId(name),
      ask: chatAsk(body, collection),
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
    });
  });

  app.post<{ Body: CompletionBody }>('/v1/completions', { schema: { body: completionBody } }, async (request, reply) => {
    const body = request.body;
    const { name, collection } = collectionForModel(served, body.model);
    return runGeneration(ctx, reply, {
      endpoint: 'completion',
      collectionName: name,
      collection,
      model: modelId(name),
      ask: completionAsk(body, collection),
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
    });
  });
}
