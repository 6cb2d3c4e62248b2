/** Thrown when every slot is busy and the waiting line is full: the route answers 429. */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
  constructor(
    readonly retryAfterSeconds: number,
    running: number,
    waiting: number,
  ) {
    super(
      `the server is busy: ${running} generation(s) running and ${waiting} waiting (the queue's limit); retry in about ${retryAfterSeconds} s`,
    );
  }
}

interface Waiter {
  grant: (release: () => void) => void;
  fail: (reason: unknown) => void;
}

/**
 * A bounded FIFO of generations: `concurrency` run, at most `maxWaiting` wait, and the next one is refused at once
 * rather than left to time out (a client told 429 + Retry-After can back off; one left hanging cannot).
 */
export class GenerationQueue {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  /** Smoothed seconds per generation, for Retry-After. */
  private secondsPerRun = 5;

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
  ) {}

  get inFlight(): number {
    return this.running;
  }

  get depth(): number {
    return this.waiting.length;
  }

  /**
   * Resolves with a release function once a slot is free. Throws QueueFullError synchronously when the line is full,
   * so the caller can still answer 429 before any header is sent; rejects with the signal's reason if it aborts first.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.maxWaiting) throw new QueueFullError(this.retryAfterSeconds(), this.running, this.waiting.length);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
        fail: reject,
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Waits for a slot, runs `fn`, frees the slot whatever happens. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Seconds until a slot is likely free for one more request: the line ahead of it, at the recent pace. */
  retryAfterSeconds(): number {
    const ahead = this.waiting.length + 1;
    return Math.max(1, Math.ceil((this.secondsPerRun * ahead) / this.concurrency));
  }

  private releaser(): () => void {
    const started = performance.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const seconds = (performance.now() - started) / 1000;
      this.secondsPerRun = 0.8 * this.secondsPerRun + 0.2 * seconds;
      const next = this.waiting.shift();
      if (next) next.grant(this.releaser());
      else this.running--;
    };
  }
}
