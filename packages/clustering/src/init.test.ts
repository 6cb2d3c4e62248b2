import { describe, expect, it } from 'vitest';
import { kmeansPlusPlus } from './init.js';
import { makeBlobs } from './test-data.js';

describe('kmeansPlusPlus', () => {
  const { items, label } = makeBlobs(6, 30, 8, { seed: 2 });
  const data = items.map((it) => Array.from(it.vector));

  it('spreads the seeds: one per well-separated blob (uniform picks would manage that ~1.5% of the time)', () => {
    for (const seed of [0, 1, 2, 3]) {
      const centres = kmeansPlusPlus(data, 6, seed);
      const blobs = centres.map((c) => label.get(items[data.findIndex((d) => d.every((x, i) => x === c[i]))].id));
      expect(new Set(blobs).size).toBe(6);
    }
  });

  it('is deterministic for a seed and returns copies of data points', () => {
    const a = kmeansPlusPlus(data, 4, 9);
    expect(kmeansPlusPlus(data, 4, 9)).toEqual(a);
    expect(kmeansPlusPlus(data, 4, 10)).not.toEqual(a);
    for (const c of a) expect(data.some((d) => d !== c && d.every((x, i) => x === c[i]))).toBe(true);
  });

  it('copes with identical points', () => {
    const same = Array.from({ length: 5 }, () => [1, 2]);
    expect(kmeansPlusPlus(same, 3, 0)).toEqual([
      [1, 2],
      [1, 2],
      [1, 2],
    ]);
  });
});
