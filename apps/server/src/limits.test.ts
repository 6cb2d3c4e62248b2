import { afterEach, describe, expect, it } from 'vitest';
import { chat, errorOf, type Harness, harness, listening, sseData } from './test-helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.drain();
});

const post = (url: string, body: unknown, signal?: AbortSignal) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });

async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('bounded queue', () => {
  it('answers 429 with Retry-After once the running slot and the queue are full, and serves the others', async () => {
    h = harness({ concurrency: 1, maxQueue: 1 });
    h.a.tokenDelayMs = 40;
    const url = await listening(h);
    const running = post(url, chat('one'));
    await until(() => h.queue.inFlight === 1, 'the first generation');
    const waiting = post(url, chat('two'));
    await until(() => h.queue.depth === 1, 'the second to queue');
    const refused = await post(url, chat('three'));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const error = await errorOf(refused);
    expect(error).toMatchObject({ type: 'rate_limit_error', code: 'queue_full' });
    expect(error.message).toMatch(/1 generation\(s\) running and 1 waiting/);
    expect((await running).status).toBe(200);
    expect((await waiting).status).toBe(200);
    expect(h.a.requests.map((r) => r.question)).toEqual(['one', 'two']);
  });
});

describe('client disconnect', () => {
  it('aborts the generation of a stream whose client went away, and frees the slot for the next request', async () => {
    h = harness({ concurrency: 1, maxQueue: 4 });
    h.a.tokenDelayMs = 100;
    const url = await listening(h);
    const controller = new AbortController();
    const res = await post(url, chat('q', { stream: true }), controller.signal);
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await until(() => h.a.signals[0]?.aborted === true, 'the answer signal to abort', 2000);
    expect(String(h.a.signals[0].reason)).toContain('client disconnected');
    h.a.tokenDelayMs = 0;
    const next = await post(url, chat('next'));
    expect(next.status).toBe(200);
    expect(h.queue.inFlight).toBe(0);
  });

  it('aborts a non-streamed generation too, and drops a request that left while queued', async () => {
    h = harness({ concurrency: 1, maxQueue: 4 });
    h.a.tokenDelayMs = 100;
    const url = await listening(h);
    const first = new AbortController();
    const queued = new AbortController();
    const a = post(url, chat('first'), first.signal).catch(() => 'gone');
    await until(() => h.queue.inFlight === 1, 'the first generation');
    const b = post(url, chat('queued'), queued.signal).catch(() => 'gone');
    await until(() => h.queue.depth === 1, 'the second to queue');
    queued.abort();
    await until(() => h.queue.depth === 0, 'the queued request to leave the line', 2000);
    first.abort();
    await until(() => h.a.signals[0]?.aborted === true, 'the running answer to abort', 2000);
    expect(await a).toBe('gone');
    expect(await b).toBe('gone');
    expect(h.a.requests.map((r) => r.question)).toEqual(['first']);
  });
});

describe('request timeout', () => {
  it('ends a generation cut by the timeout with what it had, finish_reason "length" and rg.timed_out', async () => {
    h = harness({ requestTimeoutMs: 150 });
    h.a.tokenDelayMs = 60;
    const res = await h.app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat('q') });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.choices[0].finish_reason).toBe('length');
    expect(body.choices[0].message.content).toBe('Paris is');
    expect(body.rg.timed_out).toBe(true);
  });

  it('streams the same ending: a finish chunk with "length" and timed_out, then [DONE]', async () => {
    h = harness({ requestTimeoutMs: 150 });
    h.a.tokenDelayMs = 60;
    const url = await listening(h);
    const data = sseData(await (await post(url, chat('q', { stream: true }))).text());
    expect(data.at(-1)).toBe('[DONE]');
    const finish = JSON.parse(data.at(-2)!);
    expect(finish.choices[0].finish_reason).toBe('length');
    expect(finish.rg.timed_out).toBe(true);
  });

  it('answers 504 when the timeout passes before a generation slot frees', async () => {
    h = harness({ requestTimeoutMs: 150, concurrency: 1, maxQueue: 2 });
    h.a.tokenDelayMs = 100;
    const url = await listening(h);
    const first = post(url, chat('first'));
    await until(() => h.queue.inFlight === 1, 'the first generation');
    const second = await post(url, chat('second'));
    expect(second.status).toBe(504);
    expect(await errorOf(second)).toMatchObject({ type: 'server_error', code: 'timeout' });
    expect((await first).status).toBe(200);
    expect(h.a.requests.map((r) => r.question)).toEqual(['first']);
  });
});
