import { PassThrough } from 'node:stream';
import { type AnswerResult, type Collection, RequestError } from '@rg/pipeline';
import type { FastifyReply } from 'fastify';
import type { ServerOptions } from './deps.js';
import { HttpError, requestErrorToHttp } from './errors.js';
import type { ServerMetrics } from './metrics.js';
import { type Endpoint, type FinishReason, ResponseHeader } from './openai-shapes.js';
import { type GenerationQueue, QueueFullError } from './queue.js';
import { RequestControl } from './request-control.js';
import type { AnswerAsk } from './to-answer.js';

export interface GenerationContext {
  queue: GenerationQueue;
  metrics: ServerMetrics;
  options: ServerOptions;
}

export interface GenerationTarget {
  endpoint: Endpoint;
  collectionName: string;
  collection: Collection;
  model: string;
  ask: AnswerAsk;
  stream: boolean;
  includeUsage: boolean;
}

/**
 * Waits for a generation slot, answers, and replies in OpenAI's shape (one JSON body, or server-sent events).
 * Everything that can be refused (queue full, timeout while waiting) is refused before a header is sent, so it is an
 * HTTP status; once a stream has started, an error is an `error` event in it. A request cut by the timeout ends with
 * what was generated and finish_reason "length" (rg.timed_out: true): the time limit is a length limit the client
 * did not set, and a 5xx would make OpenAI's clients retry the same long generation.
 */
export async function runGeneration(ctx: GenerationContext, reply: FastifyReply, target: GenerationTarget): Promise<FastifyReply> {
  const control = new RequestControl(reply, ctx.options.requestTimeoutMs);
  let release: () => void;
  try {
    release = await ctx.queue.acquire(control.signal);
  } catch (e) {
    control.dispose();
    if (e instanceof QueueFullError) {
      throw new HttpError(429, e.message, null, 'queue_full', { 'retry-after': String(e.retryAfterSeconds) });
    }
    if (control.timedOut) {
      throw new HttpError(
        504,
        `no generation slot became free within the request timeout (${ctx.options.requestTimeoutMs} ms)`,
        null,
        'timeout',
      );
    }
    if (control.clientGone) return clientGone(reply);
    throw e;
  }
  const header = new ResponseHeader(target.endpoint, target.model);
  try {
    if (target.stream) return await streamAnswer(ctx, reply, target, control, header);
    const result = await target.collection.answer({ ...target.ask, signal: control.signal });
    if (control.clientGone) {
      ctx.metrics.recordAnswer(target.collectionName, result, 'abort');
      return clientGone(reply);
    }
    const finish = finishReason(result);
    ctx.metrics.recordAnswer(target.collectionName, result, control.timedOut ? 'timeout' : finish);
    return reply.send(header.complete(result.text, finish, result, control.timedOut));
  } finally {
    release();
    control.dispose();
  }
}

/**
 * Nobody reads this answer; it still ends through Fastify (as nginx's 499, "client closed request") so the socket is
 * released and the request is counted in the metrics like any other.
 */
function clientGone(reply: FastifyReply): FastifyReply {
  return reply.code(499).send({ error: { message: 'client disconnected', type: 'client_error', param: null, code: 'client_closed' } });
}

/** An answer the request timeout aborted ends as "length" (see runGeneration). */
function finishReason(result: AnswerResult): FinishReason {
  return result.finishReason === 'abort' ? 'length' : result.finishReason;
}

async function streamAnswer(
  ctx: GenerationContext,
  reply: FastifyReply,
  target: GenerationTarget,
  control: RequestControl,
  header: ResponseHeader,
): Promise<FastifyReply> {
  const events = new PassThrough();
  const send = (data: unknown) => {
    if (!events.destroyed && !events.writableEnded) events.write(`data: ${JSON.stringify(data)}\n\n`);
  };
  reply
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache')
    // Proxies (nginx) would otherwise hold the events back until the buffer fills.
    .header('x-accel-buffering', 'no')
    .send(events);
  send(header.delta('', true));
  try {
    const result = await target.collection.answer({
      ...target.ask,
      signal: control.signal,
      onDelta: (text) => send(header.delta(text)),
    });
    const finish = finishReason(result);
    ctx.metrics.recordAnswer(target.collectionName, result, control.clientGone ? 'abort' : control.timedOut ? 'timeout' : finish);
    send(header.finish(finish, result, control.timedOut));
    if (target.includeUsage) send(header.usageChunk(result));
    events.end('data: [DONE]\n\n');
  } catch (e) {
    // Headers are gone: the error travels as an event, which OpenAI's clients raise as an APIError.
    send(
      e instanceof RequestError
        ? requestErrorToHttp(e).body()
        : { error: { message: (e as Error).message, type: 'server_error', param: null, code: null } },
    );
    events.end();
  }
  return reply;
}
