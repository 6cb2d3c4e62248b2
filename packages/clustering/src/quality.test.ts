import { describe, expect, it } from 'vitest';
import { evaluateK, silhouetteScore } from './quality.js';
import { makeBlobs } from './test-data.js';

describe('silhouetteScore', () => {
  it('matches a hand-computed case: 1-D points 0,1 | 4,5', () => {
    // Point 0: a = 1, b = (4 + 5) / 2 = 4.5, s = 3.5 / 4.5 = 7/9. Point 1: a = 1, b = (3 + 4) / 2, s = 5/7.
    // Points 4 and 5 mirror them, so the mean is (7/9 + 5/7) / 2 = 47/63.
    expect(silhouetteScore([[0], [1], [4], [5]], [0, 0, 1, 1])).toBeCloseTo(47 / 63, 12);
  });

  it('matches a hand-computed case with a singleton cluster (3-4-5 triangle)', () => {
    // (0,0): a = 3, b = 4 -> 1/4. (0,3): a = 3, b = 5 -> 2/5. (4,0) is alone -> 0. Mean = 0.65 / 3.
    const s = silhouetteScore(
      [
        [0, 0],
        [0, 3],
        [4, 0],
      ],
      [7, 7, 2],
    );
    expect(s).toBeCloseTo(0.65 / 3, 12);
  });

  it('is null with one cluster and checks lengths', () => {
    expect(silhouetteScore([[0], [1]], [0, 0])).toBeNull();
    expect(() => silhouetteScore([[0], [1]], [0])).toThrow('2 vectors but 1 labels');
  });
});

describe('evaluateK', () => {
  it('reports falling inertia and the best silhouette at the true k', async () => {
    const { items } = makeBlobs(4, 30, 8, { seed: 5 });
    const reports = await evaluateK(items, [2, 3, 4, 6, 8], { seed: 1 });
    expect(reports.map((r) => r.k)).toEqual([2, 3, 4, 6, 8]);
    for (let i = 1; i < reports.length; i++) expect(reports[i].inertia).toBeLessThan(reports[i - 1].inertia);
    const best = reports.reduce((a, b) => ((b.silhouette ?? -1) > (a.silhouette ?? -1) ? b : a));
    expect(best.k).toBe(4);
    expect(best.silhouette).toBeGreaterThan(0.9);
    expect(reports[0].silhouetteSampleSize).toBe(120);
  });

  it('computes silhouette on a seeded sample when asked', async () => {
    const { items } = makeBlobs(3, 50, 4, { seed: 9 });
    const a = await evaluateK(items, [3], { seed: 2, silhouetteSample: 40 });
    const b = await evaluateK([...items].reverse(), [3], { seed: 2, silhouetteSample: 40 });
    expect(a[0].silhouetteSampleSize).toBe(40);
    expect(b[0].silhouette).toBe(a[0].silhouette);
    expect(a[0].silhouette).toBeGreaterThan(0.9);
  });
});
