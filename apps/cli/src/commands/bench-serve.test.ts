import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';

let dir: string;
let model: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rg-bench-serve-'));
  model = writeTinyModel(join(dir, 'tiny-llama'));
  // The add part's document: the PopQA paragraph closest to 200 words.
  const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i % 37}`).join(' ');
  mkdirSync(join(dir, 'data', 'popqa'), { recursive: true });
  writeFileSync(
    join(dir, 'data', 'popqa', 'popqa.json'),
    JSON.stringify([
      {
        paragraphs: [
          { title: 'Short', text: words(20) },
          { title: 'Zorblax Harbour', text: `Zorblax Harbour ${words(198)}` },
        ],
      },
    ]),
  );
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('rg bench serve', () => {
  it('serves a collection it creates from the demo documents and prints every part as JSON', async () => {
    const r = await runCli([
      '--model',
      model,
      '--home',
      join(dir, 'home'),
      '--threads',
      '1',
      'bench',
      'serve',
      '--collection',
      join(dir, 'kb'),
      '--data-dir',
      join(dir, 'data'),
      '--requests',
      '2',
      '--max-new-tokens',
      '3',
      '--batch',
      '4',
      '--clients',
      '4',
      '--decode-tokens',
      '4',
      '--rounds',
      '1',
      '--json',
    ]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ bench: 'serve', batch: 4, collection: { documents: 10 }, busy: false });
    expect(out.load.start).toHaveLength(3);
    expect(out.overhead).toMatchObject({ requests: 2, errors: 0, sameText: true });
    expect(out.concurrency.levels.map((l: { clients: number }) => l.clients)).toEqual([1, 4, 16]);
    for (const level of out.concurrency.levels) expect(level).toMatchObject({ errors: 0, status429: 0 });
    expect(out.concurrency.levels[2].requests).toBe(32);
    expect(out.adapterWork.adaptersPerRequest).toEqual({ min: 3, max: 3 });
    expect(out.adapterWork.fetchPlusComposeMs.concurrency1.n).toBe(4);
    expect(out.add).toMatchObject({ words: 200, title: 'Zorblax Harbour' });
    // Training that never yields (0, as before) against the default pause, each on its own server.
    expect(out.add.runs.map((x: { trainingPauseSeconds: number }) => x.trainingPauseSeconds)).toEqual([0, 10]);
    for (const run of out.add.runs) {
      expect(run).toMatchObject({ status: 200, adapterApplied: true, answersWhileTraining: { errors: 0 } });
      expect(run.firstAnswerSeconds).toBeGreaterThanOrEqual(run.jobDoneSeconds);
      expect(run.idleAnswerMs).toBeGreaterThan(0);
      expect(run.answersWhileTraining.n).toBeGreaterThan(0);
    }
    expect(out.batching.runs.map((x: { batch: number }) => x.batch)).toEqual([1, 4]);
    expect(out.batching).toMatchObject({ clients: 4, outputsIdentical: true });
    expect(out.batching.speedup).toBeGreaterThan(0);
  });
});
