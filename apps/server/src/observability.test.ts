import { afterEach, describe, expect, it } from 'vitest';
import { chat, type Harness, harness } from './test-helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h?.drain();
});

/** The value of one sample line of a Prometheus text exposition. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('GET /v1/models', () => {
  it('lists one model per collection, rg:<name>, in the OpenAI list shape', async () => {
    h = harness();
    h.b.addDocument({ text: 'x' });
    const body = (await h.app.inject({ method: 'GET', url: '/v1/models' })).json();
    expect(body.object).toBe('list');
    expect(body.data.map((m: { id: string }) => m.id)).toEqual(['rg:a', 'rg:b']);
    expect(body.data[1]).toMatchObject({
      object: 'model',
      owned_by: 'rg',
      rg: { collection: 'b', default: false, base_model: 'smollm2-135m-instruct', documents: 1, backend: 'bm25' },
    });
    expect(body.data[0].rg.default).toBe(true);
  });
});

describe('GET /healthz', () => {
  it('answers ok with each collection, and how the process collects garbage', async () => {
    h = harness();
    h.a.addDocument({ text: 'x' });
    expect((await h.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({
      status: 'ok',
      gc: process.execArgv.includes('--single-threaded-gc') ? 'single-threaded' : 'parallel',
      collections: [
        { name: 'a', documents: 1, pending_jobs: 1 },
        { name: 'b', documents: 0, pending_jobs: 0 },
      ],
    });
  });
});

describe('GET /metrics', () => {
  it('reports each collection adapter store cache hits and misses as counters', async () => {
    h = harness();
    h.a.cacheStats = { hits: 7, misses: 2 };
    const text = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/^# TYPE rg_adapter_cache_hits_total counter$/m);
    expect(sample(text, 'rg_adapter_cache_hits_total', 'collection="a"')).toBe(7);
    expect(sample(text, 'rg_adapter_cache_misses_total', 'collection="a"')).toBe(2);
    expect(sample(text, 'rg_adapter_cache_hits_total', 'collection="b"')).toBe(0);
    // A scrape mirrors the store's totals; it does not add them up again.
    h.a.cacheStats = { hits: 9, misses: 2 };
    expect(sample((await h.app.inject({ method: 'GET', url: '/metrics' })).body, 'rg_adapter_cache_hits_total', 'collection="a"')).toBe(9);
  });

  it('counts requests by route template and status, latency, adapters, tokens, jobs and the queue', async () => {
    h = harness();
    const { jobId } = h.a.addDocument({ id: 'd1', text: 'x' });
    h.a.completeJob(jobId);
    h.a.addDocument({ id: 'd2', text: 'y' });
    await h.app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat('q') });
    await h.app.inject({ method: 'POST', url: '/v1/chat/completions', payload: chat('q', { n: 2 }) });
    await h.app.inject({ method: 'GET', url: '/v1/documents/d1' });
    await h.app.inject({ method: 'GET', url: '/v1/documents/zzz' });
    const res = await h.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.body;
    expect(sample(text, 'rg_http_requests_total', 'route="/v1/chat/completions",method="POST",status="200"')).toBe(1);
    expect(sample(text, 'rg_http_requests_total', 'route="/v1/chat/completions",method="POST",status="400"')).toBe(1);
    expect(sample(text, 'rg_http_requests_total', 'route="/v1/documents/:id",method="GET",status="404"')).toBe(1);
    expect(sample(text, 'rg_http_request_duration_seconds_count', 'route="/v1/chat/completions",method="POST"')).toBe(2);
    expect(sample(text, 'rg_adapters_applied_total', 'collection="a"')).toBe(1);
    expect(sample(text, 'rg_adapters_missing_total', 'collection="a"')).toBe(1);
    expect(sample(text, 'rg_tokens_total', 'collection="a",kind="completion"')).toBe(5);
    expect(sample(text, 'rg_answers_total', 'collection="a",reason="stop"')).toBe(1);
    expect(sample(text, 'rg_answer_stage_seconds_count', 'stage="compose"')).toBe(1);
    expect(sample(text, 'rg_jobs', 'collection="a",state="queued"')).toBe(1);
    expect(sample(text, 'rg_jobs', 'collection="a",state="running"')).toBe(0);
    expect(sample(text, 'rg_jobs', 'collection="a",state="done"')).toBe(1);
    expect(sample(text, 'rg_jobs', 'collection="a",state="failed"')).toBe(0);
    expect(sample(text, 'rg_jobs', 'collection="b",state="cancelled"')).toBe(0);
    expect(sample(text, 'rg_documents', 'collection="a"')).toBe(2);
    expect(text).toMatch(/^rg_generation_queue_depth 0$/m);
    expect(text).toMatch(/^rg_generation_in_flight 0$/m);
  });
});
