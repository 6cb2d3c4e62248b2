import type { FastifyInstance } from 'fastify';
import type { ServedCollections } from '../deps.js';
import { currentGc } from '../gc.js';
import type { ServerMetrics } from '../metrics.js';

/** GET /healthz (open even with an API key, for load balancers) and GET /metrics (Prometheus text). */
export function healthRoutes(app: FastifyInstance, served: ServedCollections, metrics: ServerMetrics): void {
  app.get('/healthz', async () => ({
    status: 'ok',
    // How this process collects garbage (gc.ts): with --single-threaded-gc, or Node's default.
    gc: currentGc(),
    collections: [...served.collections].map(([name, c]) => ({ name, documents: c.documentCount(), pending_jobs: c.pendingJobs().length })),
  }));

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.header('content-type', metrics.registry.contentType).send(text);
  });
}
