import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyModel } from '@rg/engine/testing';
import { loadRuntime, openCollection } from '@rg/pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_OPTIONS } from '../deps.js';
import { type RunningServer, startServer } from '../start.js';

/**
 * `--batch`: concurrent requests with different adapter sets decode in one batch (the engine's DecodeBatcher behind
 * loadRuntime's `generate`), on a real collection and the tiny random model. Greedy answers must be the very text each
 * request gets alone, whether the server batches or not.
 */
const DOCUMENTS = [
  { id: 'lighthouse', text: 'Varnholm Island has one lighthouse. Edda Quist has kept the lighthouse since 1998.' },
  { id: 'festival', text: 'Every October the town of Quenwick holds the Blue Turnip Festival on the Silvamoor river.' },
  { id: 'bridge', text: 'The Ostervik bridge was built of larch wood in 1871 and rebuilt in stone in 1924.' },
  { id: 'choir', text: 'The Halden boys choir sings every Sunday in the chapel of Saint Ivo at nine.' },
  { id: 'mine', text: 'The copper mine at Brennfjell closed in 1962 after ninety years of work.' },
];

/** Five requests, each with its own adapters (one, two or three documents, different weights) and question. */
const REQUESTS = [
  { question: 'Who keeps the lighthouse on Varnholm Island?', adapters: [{ id: 'lighthouse' }] },
  { question: 'When is the Blue Turnip Festival?', adapters: [{ id: 'festival' }, { id: 'bridge', weight: 0.5 }] },
  { question: 'What is the Ostervik bridge made of?', adapters: [{ id: 'bridge' }, { id: 'choir' }, { id: 'mine' }] },
  { question: 'When does the choir sing?', adapters: [{ id: 'choir', weight: 2 }] },
  { question: 'When did the mine close? Answer in one word.', adapters: [{ id: 'mine' }, { id: 'lighthouse' }] },
];

let dir: string;
let model: string;
let home: string;
let kb: string;

interface Answered {
  text: string;
  finish: string;
  adapters: Array<{ id: string; weight: number }>;
}

async function ask(server: RunningServer, request: (typeof REQUESTS)[number]): Promise<Answered> {
  const res = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'rg:kb',
      messages: [{ role: 'user', content: request.question }],
      max_tokens: 12,
      temperature: 0,
      rg: { method: 'cat_all_one', adapters: request.adapters },
    }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as {
    choices: Array<{ message: { content: string }; finish_reason: string }>;
    rg: { adapters: Answered['adapters'] };
  };
  return { text: body.choices[0].message.content, finish: body.choices[0].finish_reason, adapters: body.rg.adapters };
}

async function serve(batch: number, worker = false): Promise<RunningServer> {
  return startServer({
    ...DEFAULT_SERVER_OPTIONS,
    collections: [kb],
    host: '127.0.0.1',
    port: 0,
    model,
    home,
    threads: 1,
    batch,
    concurrency: batch,
    worker,
    logLevel: 'silent',
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rg-server-batch-'));
  model = writeTinyModel(join(dir, 'tiny-llama'));
  home = join(dir, 'home');
  kb = join(dir, 'kb');
  const runtime = await loadRuntime({ model, home, threads: 1 });
  const collection = await openCollection(kb, runtime, { create: { recipe: { epochs: 1 } } });
  for (const doc of DOCUMENTS) collection.addDocument(doc);
  await collection.whenIdle();
  for (const doc of DOCUMENTS) expect(collection.document(doc.id)?.hasAdapter).toBe(true);
  await collection.close();
  await runtime.dispose();
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('rg-server --batch', () => {
  it('gives concurrent requests with different adapters exactly the greedy text each gets alone', async () => {
    const batched = await serve(6);
    let together: Answered[];
    let alone: Answered[] = [];
    try {
      together = await Promise.all(REQUESTS.map((r) => ask(batched, r)));
      for (const r of REQUESTS) alone.push(await ask(batched, r));
      expect(together).toEqual(alone);
    } finally {
      await batched.shutdown();
    }
    // And the same as a server that never batches (the engine's own generate).
    const plain = await serve(1);
    try {
      alone = [];
      for (const r of REQUESTS) alone.push(await ask(plain, r));
    } finally {
      await plain.shutdown();
    }
    expect(together).toEqual(alone);
    expect(together.map((a) => a.adapters.map((x) => x.id))).toEqual(REQUESTS.map((r) => r.adapters.map((x) => x.id)));
    // The tiny random model's answers differ between adapter sets: the rows did not share one.
    expect(new Set(together.map((a) => a.text)).size).toBeGreaterThan(1);
  });

  it('--worker (decoding in a worker thread) answers batched and lone requests with the same text', async () => {
    const inProcess = await serve(6);
    let want: Answered[];
    try {
      want = await Promise.all(REQUESTS.map((r) => ask(inProcess, r)));
    } finally {
      await inProcess.shutdown();
    }
    const worker = await serve(6, true);
    try {
      expect(await Promise.all(REQUESTS.map((r) => ask(worker, r)))).toEqual(want);
      expect(await ask(worker, REQUESTS[2])).toEqual(want[2]);
    } finally {
      await worker.shutdown();
    }
  });
});
