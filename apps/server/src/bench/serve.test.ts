import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyModel } from '@rg/engine/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVE_BENCH_DEFAULTS, serveBench } from './index.js';

const DOCUMENTS = [
  { id: 'lighthouse', title: 'Varnholm lighthouse', text: 'Varnholm Island has one lighthouse. Edda Quist has kept it since 1998.' },
  { id: 'festival', title: 'Blue Turnip Festival', text: 'Every October the town of Quenwick holds the Blue Turnip Festival.' },
  { id: 'bridge', title: 'Ostervik bridge', text: 'The Ostervik bridge was built of larch wood in 1871 and rebuilt in stone in 1924.' },
  { id: 'mine', title: 'Brennfjell mine', text: 'The copper mine at Brennfjell closed in 1962 after ninety years of work.' },
];
const QUESTIONS = ['Who keeps the lighthouse on Varnholm Island?', 'When is the Blue Turnip Festival?'];

let dir: string;
let model: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rg-server-bench-'));
  model = writeTinyModel(join(dir, 'tiny-llama'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A tiny run on the tiny random model that checks what the benchmark measures; figures come from `nx run server:bench`.
describe('serveBench', () => {
  it('creates the collection, runs every part with the sizes asked for, and reports each', async () => {
    const said: string[] = [];
    let readyAt = -1;
    const out = await serveBench(
      {
        ...SERVE_BENCH_DEFAULTS,
        model,
        home: join(dir, 'home'),
        threads: 1,
        collection: join(dir, 'kb'),
        documents: DOCUMENTS,
        questions: QUESTIONS,
        newDocument: { id: 'harbour', title: 'Zorblax Harbour', text: `Zorblax Harbour ${'has a pier of black stone. '.repeat(8)}` },
        requests: 2,
        maxNewTokens: 3,
        batch: 2,
        trainingPause: 0,
        clients: 2,
        decodeTokens: 3,
        rounds: 1,
        onReady: () => {
          readyAt = said.length;
        },
      },
      (line) => said.push(line),
    );
    // The load guard's hook runs after the documents were encoded, before anything is timed.
    expect(said[readyAt - 1]).toMatch(/encoding 4 demo documents/);
    expect(said.slice(readyAt).some((l) => /encoding/.test(l))).toBe(false);
    expect(out).toMatchObject({ threads: 1, batch: 2, worker: false, collection: { documents: 4, warmedAdapters: 4 }, maxNewTokens: 3 });
    expect(out.overhead).toMatchObject({ requests: 2, errors: 0, sameText: true });
    expect(out.overhead!.httpMs.p50).toBeLessThanOrEqual(out.overhead!.httpMs.p99);
    expect(out.overhead!.inProcessMs.p50).toBeGreaterThan(0);
    // Each level sends max(requests, 2 x clients) requests.
    expect(out.concurrency!.levels.map((l) => [l.clients, l.requests])).toEqual([
      [1, 2],
      [4, 8],
      [16, 32],
    ]);
    for (const level of out.concurrency!.levels) {
      expect(level).toMatchObject({ errors: 0, status429: 0 });
      expect(level.latencyMs!.p50).toBeLessThanOrEqual(level.latencyMs!.p99);
      expect(level.requestsPerSecond).toBeGreaterThan(0);
    }
    expect(out.adapterWork!.adaptersPerRequest).toEqual({ min: 3, max: 3 });
    // Concurrency 1: the overhead part's two answers over HTTP and the concurrency part's two.
    expect(out.adapterWork!.fetchPlusComposeMs.concurrency1!.n).toBe(4);
    // The two warm-up requests read all four adapters, so the overhead part's two requests find them in memory.
    expect(out.adapterWork!.byCache).toMatchObject({ inMemory: { requests: 2 }, readFromDisk: { requests: 0, fetchPlusComposeMs: null } });
    expect(out.add).toMatchObject({ title: 'Zorblax Harbour', words: 2 + 6 * 8 });
    expect(out.add!.runs).toHaveLength(1); // training pause 0 is the only one compared with itself
    expect(out.add!.runs[0]).toMatchObject({ trainingPauseSeconds: 0, status: 200, adapterApplied: true });
    expect(out.add!.runs[0].firstAnswerSeconds).toBeGreaterThanOrEqual(out.add!.runs[0].jobDoneSeconds);
    expect(out.batching!.runs.map((r) => r.batch)).toEqual([1, 2]);
    expect(out.batching).toMatchObject({ clients: 2, decodeTokens: 3, rounds: 1, outputsIdentical: true });
    for (const run of out.batching!.runs) expect(run.completionTokensPerSecond).toBeGreaterThan(0);
    expect(out.batching!.speedup).toBeGreaterThan(0);
    expect(out.peakRssMb).toBeGreaterThan(0);
    // f32 unless asked; the collector is the test process's own.
    expect(out).toMatchObject({ weights: 'f32', gc: process.execArgv.includes('--single-threaded-gc') ? 'single-threaded' : 'parallel' });
    // The order of the fields is the order rg bench serve prints them in.
    expect(Object.keys(out)).toEqual([
      'model',
      'threads',
      'batch',
      'worker',
      'weights',
      'gc',
      'collection',
      'maxNewTokens',
      'overhead',
      'concurrency',
      'adapterWork',
      'add',
      'batching',
      'peakRssMb',
    ]);
  });

  it('ends with the error of a load guard that refuses after the setup', async () => {
    const refuse = new Error('busy');
    const run = serveBench({
      ...SERVE_BENCH_DEFAULTS,
      model,
      home: join(dir, 'home'),
      threads: 1,
      collection: join(dir, 'kb'),
      documents: DOCUMENTS.slice(0, 3),
      questions: QUESTIONS,
      parts: ['overhead'],
      onReady: () => {
        throw refuse;
      },
    });
    await expect(run).rejects.toBe(refuse);
  });
});
