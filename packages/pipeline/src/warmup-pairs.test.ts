import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError, sampleExamples } from '@rg/inference';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultWarmupSplit, WarmupSplitError, warmupPairs } from './warmup-pairs.js';

const dir = mkdtempSync(join(tmpdir(), 'rg-warmup-pairs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = join(dir, 'train.jsonl');
writeFileSync(
  file,
  Array.from({ length: 10 }, (_, i) =>
    JSON.stringify({ id: `q${i}`, question: `What is item ${i}?`, answers: [`item-${i}`, `#${i}`] }),
  ).join('\n'),
);

describe('warmupPairs', () => {
  it('gives closed-book prompts and first answers, a seeded sample, without an evaluation sample', () => {
    const excluded = sampleExamples(
      Array.from({ length: 10 }, (_, i) => ({ id: `q${i}`, question: '', answers: [''] })),
      3,
      7,
    ).map((e) => e.id);
    const got = warmupPairs(`jsonl:${file}`, { dataDir: dir, n: 4, seed: 1, exclude: { sample: 3, seed: 7 } });
    expect(got).toMatchObject({ split: 'file', candidates: 7, excluded: 3 });
    expect(got.pairs).toHaveLength(4);
    for (const p of got.pairs) {
      expect(excluded).not.toContain(p.id);
      expect(p.prompt).toContain(`What is item ${p.id.slice(1)}?`);
      expect(p.answer).toBe(`item-${p.id.slice(1)}`);
    }
    // Same seed, same pairs; asking for more than are left gives all that are left.
    expect(warmupPairs(`jsonl:${file}`, { dataDir: dir, n: 4, seed: 1, exclude: { sample: 3, seed: 7 } }).pairs).toEqual(got.pairs);
    expect(warmupPairs(`jsonl:${file}`, { dataDir: dir, n: 50, seed: 1 }).pairs).toHaveLength(10);
  });

  it('never trains on test questions: test and all are refused, a file takes no split', () => {
    expect(() => warmupPairs('popqa', { dataDir: dir, split: 'test', n: 1, seed: 0 })).toThrow(
      new WarmupSplitError('--split test: the warm-up never trains on test questions; expected dev (the questions outside the test split)'),
    );
    expect(() => warmupPairs('chemprot', { dataDir: dir, split: 'all', n: 1, seed: 0 })).toThrow(/all holds them\); expected train or dev/);
    expect(() => warmupPairs(`jsonl:${file}`, { dataDir: dir, split: 'dev', n: 1, seed: 0 })).toThrow(WarmupSplitError);
    expect(() => warmupPairs(`jsonl:${join(dir, 'missing.jsonl')}`, { dataDir: dir, n: 1, seed: 0 })).toThrow(DatasetError);
    expect([defaultWarmupSplit('chemprot'), defaultWarmupSplit('popqa'), defaultWarmupSplit(`jsonl:${file}`)]).toEqual([
      'train',
      'dev',
      undefined,
    ]);
  });
});
