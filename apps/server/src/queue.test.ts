import { describe, expect, it } from 'vitest';
import { GenerationQueue, QueueFullError } from './queue.js';

describe('GenerationQueue', () => {
  it('runs `concurrency` at once, queues up to maxWaiting in arrival order, and refuses the next synchronously', async () => {
    const queue = new GenerationQueue(1, 2);
    const first = await queue.acquire();
    const order: string[] = [];
    const granted = (name: string) => (release: () => void) => {
      order.push(name);
      return release;
    };
    const second = queue.acquire().then(granted('second'));
    const third = queue.acquire().then(granted('third'));
    expect(queue.inFlight).toBe(1);
    expect(queue.depth).toBe(2);
    expect(() => queue.acquire()).toThrow(QueueFullError);
    first();
    (await second)();
    (await third)();
    expect(order).toEqual(['second', 'third']);
    expect(queue.inFlight).toBe(0);
    expect(queue.depth).toBe(0);
  });

  it('drops a waiter whose signal aborts, so it neither runs nor holds a place', async () => {
    const queue = new GenerationQueue(1, 1);
    const first = await queue.acquire();
    const controller = new AbortController();
    const waiting = queue.acquire(controller.signal);
    controller.abort(new Error('client disconnected'));
    await expect(waiting).rejects.toThrow('client disconnected');
    expect(queue.depth).toBe(0);
    const next = queue.acquire();
    first();
    (await next)();
    expect(queue.inFlight).toBe(0);
  });

  it('frees the slot when the work throws, and a release called twice frees it once', async () => {
    const queue = new GenerationQueue(1, 0);
    await expect(queue.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const release = await queue.acquire();
    release();
    release();
    expect(queue.inFlight).toBe(0);
    const a = await queue.acquire();
    expect(() => queue.acquire()).toThrow(QueueFullError);
    a();
  });

  it('suggests a Retry-After that grows with the line', async () => {
    const queue = new GenerationQueue(1, 5);
    const release = await queue.acquire();
    const empty = queue.retryAfterSeconds();
    const waiters = [queue.acquire(), queue.acquire(), queue.acquire()];
    expect(queue.retryAfterSeconds()).toBeGreaterThan(empty);
    expect(empty).toBeGreaterThanOrEqual(1);
    release();
    for (const w of waiters) (await w)();
  });
});
