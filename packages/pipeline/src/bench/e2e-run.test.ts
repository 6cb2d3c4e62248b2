import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Augmenter } from '@rg/augment';
import { afterAll, describe, expect, it } from 'vitest';
import { SILENT, stepCounter } from '../reported.js';
import { type E2eRunSettings, runE2e } from './e2e-run.js';
import { e2eStepCount } from './e2e-steps.js';
import { BenchInputError } from './errors.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const SETTINGS: E2eRunSettings = {
  dataset: 'popqa',
  dataDir: '.',
  sample: 1,
  seed: 0,
  topk: 1,
  generator: 'template',
  qa: 1,
  rank: 2,
  alpha: 32,
  lr: 3e-4,
  epochs: 1,
  examples: 'qa',
  loss: 'answer',
  objective: 'lm',
  compose: 'cat',
  dapt: false,
  warmupN: 1,
  warmupLr: 3e-4,
  warmupEpochs: 1,
  clusterK: [],
  representatives: 1,
  clusterTop: 1,
  out: 'out',
};

/** An environment whose augmenter must never be asked for: the run has to stop before any work. */
function refusingEnv(cwd: string) {
  const augmenter = (): Promise<Augmenter> => {
    throw new Error('the run went past its input checks');
  };
  return { model: 'smollm2-135m-instruct', home: join(cwd, 'home'), threads: 1, env: {}, cwd, reporter: SILENT, augmenter };
}

const noRecord = () => {
  throw new Error('no record expected');
};

describe('runE2e input checks', () => {
  it('names the setting when the corpus file cannot be read, and refuses a warm-up a jsonl dataset cannot give, before any work', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'rg-e2e-run-'));
    dirs.push(cwd);
    writeFileSync(join(cwd, 'q.jsonl'), '{"question": "q?", "answer": "a"}\n');
    const jsonl = { ...SETTINGS, dataset: 'jsonl:q.jsonl' };

    const missing = runE2e({ ...jsonl, corpus: 'nope.jsonl' }, refusingEnv(cwd), noRecord);
    await expect(missing).rejects.toThrow(BenchInputError);
    await expect(missing).rejects.toThrow(`--corpus ${join(cwd, 'nope.jsonl')}: cannot read (ENOENT)`);
    const folder = runE2e({ ...jsonl, corpus: '.' }, refusingEnv(cwd), noRecord);
    await expect(folder).rejects.toThrow(`--corpus ${cwd}: not a file`);
    const none = runE2e(jsonl, refusingEnv(cwd), noRecord);
    await expect(none).rejects.toThrow('give the corpus with --corpus');
    const warmup = runE2e({ ...jsonl, corpus: 'q.jsonl', warmup: true }, refusingEnv(cwd), noRecord);
    await expect(warmup).rejects.toThrow('--warmup: a jsonl: dataset has no training split');
  });

  it('counts the steps it announces: 7, four per k, one each for the warm-up and the tags', () => {
    expect(e2eStepCount(SETTINGS)).toBe(7);
    expect(e2eStepCount({ ...SETTINGS, clusterK: [10, 50], warmup: true, tags: true })).toBe(17);
    // The counter a run makes from it starts at that total.
    const lines: string[] = [];
    stepCounter({ ...SILENT, info: (l) => lines.push(l) }, e2eStepCount(SETTINGS)).announce('ingest the corpus');
    expect(lines).toEqual(['[1/7] ingest the corpus']);
  });
});
