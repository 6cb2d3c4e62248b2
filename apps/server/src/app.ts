import { RequestError } from '@rg/pipeline';
import Fastify, { type FastifyError, type FastifyInstance, LogController } from 'fastify';
import { bearerCheck, OPEN_ROUTES } from './auth.js';
import type { ServedCollections, ServerOptions } from './deps.js';
import { HttpError, requestErrorToHttp } from './errors.js';
import { ServerMetrics } from './metrics.js';
import { GenerationQueue } from './queue.js';
import { completionRoutes } from './routes/completions.js';
import { documentRoutes } from './routes/documents.js';
import { healthRoutes } from './routes/health.js';
import { modelRoutes } from './routes/models.js';
import { playgroundRoutes } from './routes/playground.js';
import { type SchemaIssue, schemaError } from './validation-error.js';

export interface BuildAppOptions extends ServerOptions {
  /** Where log lines go (default stderr); tests read them. */
  logStream?: { write(line: string): void };
}

export interface RgApp {
  app: FastifyInstance;
  queue: GenerationQueue;
  metrics: ServerMetrics;
  /** Requests received and not yet ended (answered, or their client gone). */
  activeRequests(): number;
  /**
   * Stops accepting, lets every request in flight end (each is bounded by the request timeout), then closes the
   * connections left: Fastify's close alone waits on keep-alive sockets that never sent a request.
   */
  drain(): Promise<void>;
}

/** The HTTP layer over open collections: routes, schemas, auth, queue and metrics; listening is the caller's. */
export function buildApp(served: ServedCollections, options: BuildAppOptions): RgApp {
  if (!served.collections.has(served.defaultCollection)) {
    throw new Error(
      `default collection "${served.defaultCollection}" is not among the served ones (${[...served.collections.keys()].join(', ')})`,
    );
  }
  const app = Fastify({
    logger:
      options.logLevel === 'silent'
        ? false
        : { level: options.logLevel, ...(options.logStream ? { stream: options.logStream } : { stream: process.stderr }) },
    // One line per request only when asked for (debug); the default is quiet.
    logController: new LogController({ disableRequestLogging: options.logLevel !== 'debug' }),
    ajv: {
      // Reject what does not match instead of quietly dropping or converting it: a typo in `rg` must be an error.
      // allowUnionTypes: fields such as `content` are a string or an array, as in OpenAI's API.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false, allowUnionTypes: true },
    },
  });
  const queue = new GenerationQueue(options.concurrency, options.maxQueue);
  const metrics = new ServerMetrics(queue, served.collections);

  let active = 0;
  let onIdle: (() => void) | undefined;
  // The raw response's 'close' comes once per request whichever way it ends, where Fastify's hooks do not.
  app.addHook('onRequest', async (_request, reply) => {
    active++;
    reply.raw.once('close', () => {
      active--;
      if (active === 0) onIdle?.();
    });
  });
  const drain = async () => {
    const closed = app.close();
    if (active > 0) await new Promise<void>((resolve) => (onIdle = resolve));
    app.server.closeAllConnections();
    await closed;
  };

  if (options.apiKey) {
    const check = bearerCheck(options.apiKey);
    app.addHook('onRequest', async (request) => {
      if (!OPEN_ROUTES.has(request.routeOptions.url ?? '')) check(request.headers.authorization);
    });
  }

  app.addHook('onResponse', async (request, reply) => {
    // The route template, not the URL: ids in paths would make one series per document.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ route, method: request.method }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    let http: HttpError;
    if (error instanceof HttpError) http = error;
    else if (error instanceof RequestError) http = requestErrorToHttp(error);
    else if ((error as FastifyError).validation) {
      http = schemaError((error as FastifyError).validation as SchemaIssue[], (error as FastifyError).validationContext ?? 'body');
    } else if ((error as FastifyError).statusCode && (error as FastifyError).statusCode! < 500) {
      // Fastify's own refusals (malformed JSON, wrong content type, body too large) keep their status and message.
      http = new HttpError((error as FastifyError).statusCode!, error.message, null, (error as FastifyError).code ?? null);
    } else {
      request.log.error({ err: error }, 'request failed');
      http = new HttpError(500, error.message, null, 'internal_error');
    }
    return reply.code(http.statusCode).headers(http.headers).send(http.body());
  });

  app.setNotFoundHandler((request, reply) => {
    const http = new HttpError(404, `no route ${request.method} ${request.url.split('?')[0]}`, null, 'not_found');
    return reply.code(404).send(http.body());
  });

  const ctx = { queue, metrics, options };
  modelRoutes(app, served, Math.floor(Date.now() / 1000));
  completionRoutes(app, served, ctx);
  documentRoutes(app, served, metrics);
  healthRoutes(app, served, metrics);
  playgroundRoutes(app);
  return { app, queue, metrics, activeRequests: () => active, drain };
}
