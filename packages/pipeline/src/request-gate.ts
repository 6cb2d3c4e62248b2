/**
 * The requests in flight on a model runtime, for training to yield to. On a small CPU a training step and a decode
 * step compete for the same cores: a request that came while a document trained in the same process used to wait
 * behind the whole training (10-13 s measured with `rg bench serve`). Training asks `idle()` before every micro-batch
 * and so pauses while requests are in flight; for at most `maxPauseMs` at a time, so that a steady stream of requests
 * slows documents down but cannot starve them.
 */
export class RequestGate {
  private inFlight = 0;
  private waiters = new Set<() => void>();

  /** `maxPauseMs` 0: training never waits. */
  constructor(readonly maxPauseMs = 10_000) {}

  /** Requests in flight now. */
  get active(): number {
    return this.inFlight;
  }

  /** A request starts; call what it returns when it ends (once; further calls do nothing). */
  enter(): () => void {
    this.inFlight++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.inFlight--;
      if (this.inFlight === 0) for (const wake of [...this.waiters]) wake();
    };
  }

  /** Resolves once no request is in flight, after `maxPauseMs`, or when `signal` aborts, whichever comes first. */
  idle(signal?: AbortSignal): Promise<void> {
    if (this.inFlight === 0 || this.maxPauseMs <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, this.maxPauseMs);
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }
}
