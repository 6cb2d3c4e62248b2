import type { FastifyReply } from 'fastify';

/**
 * One request's abort signal: it fires when the request timeout passes (waiting in the queue included) or when the
 * client goes away before the response ended, so a generation nobody will read stops between two tokens.
 */
export class RequestControl {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  timedOut = false;
  clientGone = false;

  constructor(
    reply: FastifyReply,
    readonly timeoutMs: number,
  ) {
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error(`request timeout of ${timeoutMs} ms passed`));
    }, timeoutMs);
    // 'close' also follows a normal end; only a close before the response was ended means the client left.
    reply.raw.once('close', () => {
      if (reply.raw.writableEnded) return;
      this.clientGone = true;
      this.controller.abort(new Error('client disconnected'));
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}
