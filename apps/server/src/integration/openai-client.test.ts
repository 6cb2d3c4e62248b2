import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyModel } from '@rg/engine/testing';
import { loadRuntime, openCollection } from '@rg/pipeline';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_OPTIONS } from '../deps.js';
import { type RunningServer, type StartOptions, startServer } from '../start.js';

/**
 * The server on a real collection and the tiny random model (answers are noise; the wiring is real: retrieval,
 * adapters encoded by the collection's jobs, generation), driven by the official openai client.
 */
const KEY = 'sk-integration-7d1e';
const DOCUMENTS = [
  { id: 'lighthouse', title: 'Varnholm', text: 'Varnholm Island has one lighthouse. Edda Quist has kept the lighthouse since 1998.' },
  { id: 'festival', text: 'Every October the town of Quenwick holds the Blue Turnip Festival on the Silvamoor river.' },
];

let dir: string;
let server: RunningServer;
let startOptions: StartOptions;
let client: OpenAI;

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${KEY}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });
}

async function waitForJob(jobId: string): Promise<{ state: string }> {
  const end = Date.now() + 120_000;
  for (;;) {
    const job = (await (await api(`/v1/jobs/${jobId}`)).json()) as { state: string; error: string | null };
    if (job.state === 'done' || job.state === 'failed') return job;
    if (Date.now() > end) throw new Error(`job ${jobId} still ${job.state}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rg-server-it-'));
  const model = writeTinyModel(join(dir, 'tiny-llama'));
  const home = join(dir, 'home');
  const kb = join(dir, 'kb');
  // Made beforehand with a one-epoch recipe so the tiny model's jobs take seconds; the server opens it as it is.
  const runtime = await loadRuntime({ model, home, threads: 1 });
  await (await openCollection(kb, runtime, { create: { recipe: { epochs: 1 }, answer: { maxNewTokens: 6 } } })).close();
  await runtime.dispose();
  startOptions = {
    ...DEFAULT_SERVER_OPTIONS,
    collections: [kb],
    host: '127.0.0.1',
    port: 0,
    model,
    home,
    threads: 1,
    logLevel: 'silent',
    apiKey: KEY,
  };
  server = await startServer(startOptions);
  // An empty collection at start: nothing to warm.
  expect((await server.warmed).get('kb')).toMatchObject({ adapters: 0, complete: true });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
  for (const doc of DOCUMENTS) {
    const res = await api('/v1/documents', { method: 'POST', body: JSON.stringify(doc) });
    expect(res.status).toBe(202);
    const { job_id } = (await res.json()) as { job_id: string };
    expect(await waitForJob(job_id)).toMatchObject({ state: 'done' });
  }
});

afterAll(async () => {
  await server?.shutdown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type WithRg = {
  rg: { documents: Array<{ id: string }>; adapters: Array<{ id: string; weight: number }>; timings: Record<string, number> };
};

describe('the official openai client against a running server', () => {
  it('lists the collection as a model', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['rg:kb']);
  });

  it('chat completions: the retrieved document and its adapter, and the same text streamed as not', async () => {
    const question = 'Who keeps the lighthouse on Varnholm Island?';
    const done = await client.chat.completions.create({ model: 'rg:kb', messages: [{ role: 'user', content: question }], temperature: 0 });
    expect(done.object).toBe('chat.completion');
    expect(done.model).toBe('rg:kb');
    expect(done.choices[0].message.role).toBe('assistant');
    expect(typeof done.choices[0].message.content).toBe('string');
    expect(done.usage!.completion_tokens).toBeGreaterThan(0);
    expect(done.usage!.completion_tokens).toBeLessThanOrEqual(6);
    const rg = (done as unknown as WithRg).rg;
    expect(rg.documents[0].id).toBe('lighthouse');
    expect(rg.adapters.map((a) => a.id)).toContain('lighthouse');
    expect(rg.timings.decode_ms).toBeGreaterThan(0);

    const stream = await client.chat.completions.create({
      model: 'rg:kb',
      messages: [{ role: 'user', content: question }],
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    const finishes: string[] = [];
    let streamedRg: WithRg['rg'] | undefined;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.choices[0]?.finish_reason) finishes.push(chunk.choices[0].finish_reason);
      streamedRg ??= (chunk as unknown as Partial<WithRg>).rg;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(done.choices[0].message.content);
    expect(finishes).toEqual([done.choices[0].finish_reason]);
    expect(streamedRg?.adapters).toEqual(rg.adapters);
    expect(usage).toEqual(done.usage);
  });

  it('completions: a raw prompt, streamed and not, give the same text', async () => {
    const done = await client.completions.create({
      model: 'rg:kb',
      prompt: 'The Blue Turnip Festival is held',
      max_tokens: 4,
      temperature: 0,
    });
    expect(done.object).toBe('text_completion');
    expect(done.usage!.completion_tokens).toBeLessThanOrEqual(4);
    const stream = await client.completions.create({
      model: 'rg:kb',
      prompt: 'The Blue Turnip Festival is held',
      max_tokens: 4,
      temperature: 0,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(done.choices[0].text);
  });

  it('surfaces a 400 naming the field as an APIError', async () => {
    const error = await client.chat.completions
      .create({ model: 'rg:kb', messages: [{ role: 'user', content: 'q' }], rg: { method: 'magic' } } as never)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    expect((error as Error).message).toContain('rg.method: expected one of');
  });

  it('answers 400 naming the field when the collection refuses a document (a reserved id)', async () => {
    const res = await api('/v1/documents', { method: 'POST', body: JSON.stringify({ id: 'cluster-k4-0', text: 'x y z' }) });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { param: string; message: string } };
    expect(error.param).toBe('id');
    expect(error.message).toMatch(/^id: "cluster-k4-0" is reserved for a cluster adapter/);
  });

  it('a restarted server reads the adapters into memory at start: the first answer reads none from disk', async () => {
    await server.shutdown();
    server = await startServer(startOptions);
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
    expect((await server.warmed).get('kb')).toMatchObject({ adapters: DOCUMENTS.length, failed: 0, complete: true });
    const kb = server.collections.get('kb')!;
    const done = await client.chat.completions.create({
      model: 'rg:kb',
      messages: [{ role: 'user', content: 'Who keeps the lighthouse on Varnholm Island?' }],
    });
    expect((done as unknown as WithRg).rg.adapters.length).toBeGreaterThan(0);
    expect(kb.adapterCacheStats().misses).toBe(0);
    expect(kb.adapterCacheStats().hits).toBeGreaterThan(0);
  });

  it('a deleted document is no longer retrieved or applied from the next request on', async () => {
    const ask = () =>
      client.chat.completions.create({
        model: 'rg:kb',
        messages: [{ role: 'user', content: 'When does Quenwick hold the Blue Turnip Festival?' }],
      });
    const before = (await ask()) as unknown as WithRg;
    expect(before.rg.documents[0].id).toBe('festival');
    expect((await api('/v1/documents/festival', { method: 'DELETE' })).status).toBe(200);
    const after = (await ask()) as unknown as WithRg;
    expect(after.rg.documents.map((d) => d.id)).not.toContain('festival');
    expect(after.rg.adapters.map((a) => a.id)).not.toContain('festival');
    expect((await api('/v1/documents/festival')).status).toBe(404);
  });
});
