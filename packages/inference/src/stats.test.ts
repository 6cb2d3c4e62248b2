import { describe, expect, it } from 'vitest';
import { BOOTSTRAP_RESAMPLES, bootstrapMean, pairedBootstrapDifference } from './stats.js';

// 0/1 scores with a given count of ones, spread over n questions (a fixed pattern, no randomness).
const ones = (n: number, k: number) =>
  Array.from({ length: n }, (_, i) => (Math.floor(((i + 1) * k) / n) > Math.floor((i * k) / n) ? 1 : 0));

describe('bootstrapMean', () => {
  it('gives a zero-width interval at the mean when every question scores the same', () => {
    for (const v of [0, 1, 0.3]) {
      const r = bootstrapMean(Array(40).fill(v), { seed: 3 });
      expect(r.low).toBe(r.high);
      expect(r.estimate).toBe(r.low);
      expect(r.estimate).toBeCloseTo(v, 12);
    }
  });

  it('spans the whole range for two questions, one right and one wrong', () => {
    // Resample means are 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4: the 2.5% and 97.5% percentiles are 0 and 1.
    expect(bootstrapMean([0, 1])).toEqual({ estimate: 0.5, low: 0, high: 1 });
  });

  it('matches the normal approximation for 100 yes/no questions at 50%', () => {
    const r = bootstrapMean(ones(100, 50), { seed: 1 });
    expect(r.estimate).toBe(0.5);
    // 1.96 * sqrt(0.25 / 100) = 0.098; percentiles of 2,000 resamples land within a point or two of it.
    expect(r.low).toBeGreaterThan(0.38);
    expect(r.low).toBeLessThan(0.42);
    expect(r.high).toBeGreaterThan(0.58);
    expect(r.high).toBeLessThan(0.62);
    const narrower = bootstrapMean(ones(100, 50), { seed: 1, level: 0.5 });
    expect(narrower.high - narrower.low).toBeLessThan((r.high - r.low) / 2);
  });

  it('is the same for the same seed and moves a little with another', () => {
    // Token-F1-like scores in [0, 1]: continuous, so resample means do not all fall on a few lattice values.
    const scores = Array.from({ length: 60 }, (_, i) => ((i * 0.618034) % 1) ** 2);
    expect(bootstrapMean(scores, { seed: 7 })).toEqual(bootstrapMean(scores, { seed: 7 }));
    const other = bootstrapMean(scores, { seed: 8 });
    const a = bootstrapMean(scores, { seed: 7 });
    expect(other).not.toEqual(a);
    expect(Math.abs(other.low - a.low)).toBeLessThan(0.03);
    expect(BOOTSTRAP_RESAMPLES).toBe(2000);
  });

  it('refuses no scores, scores that are not numbers and bad options', () => {
    expect(() => bootstrapMean([])).toThrow('bootstrap of no scores');
    expect(() => bootstrapMean([1, Number.NaN])).toThrow('not a finite number');
    expect(() => bootstrapMean([1], { resamples: 0 })).toThrow('resamples must be a positive integer');
    expect(() => bootstrapMean([1], { level: 1 })).toThrow('level must be in (0, 1)');
  });
});

describe('pairedBootstrapDifference', () => {
  it('gives exactly 0 for identical methods', () => {
    const scores = ones(50, 20);
    expect(pairedBootstrapDifference(scores, scores, { seed: 2 })).toEqual({ estimate: 0, low: 0, high: 0 });
  });

  it('excludes 0 for a clear difference, with the sign of a - b', () => {
    const a = ones(100, 70);
    const b = ones(100, 40);
    const r = pairedBootstrapDifference(a, b, { seed: 4 });
    expect(r.estimate).toBeCloseTo(0.3, 12);
    expect(r.low).toBeGreaterThan(0);
    expect(r.high).toBeGreaterThan(r.low);
    const flipped = pairedBootstrapDifference(b, a, { seed: 4 });
    expect(flipped.high).toBeLessThan(0);
    expect(flipped.low).toBeCloseTo(-r.high, 12);
  });

  it('contains 0 when the methods differ on a few questions in both directions', () => {
    const a = ones(100, 50);
    const b = a.map((v, i) => (i % 25 === 0 ? 1 - v : v));
    const r = pairedBootstrapDifference(a, b, { seed: 5 });
    expect(r.low).toBeLessThan(0);
    expect(r.high).toBeGreaterThan(0);
  });

  it('is narrower than the difference of unpaired intervals when the methods agree on most questions', () => {
    // b is a with three wrong answers made right: a small, consistent gain the pairing can see.
    const a = ones(100, 50);
    const b = [...a];
    let changed = 0;
    for (let i = 0; i < b.length && changed < 3; i++)
      if (b[i] === 0) {
        b[i] = 1;
        changed++;
      }
    const paired = pairedBootstrapDifference(b, a, { seed: 6 });
    expect(paired.estimate).toBeCloseTo(0.03, 12);
    expect(paired.low).toBeGreaterThanOrEqual(0);
    const single = bootstrapMean(a, { seed: 6 });
    expect(paired.high - paired.low).toBeLessThan((single.high - single.low) / 2);
  });

  it('refuses scores of different question counts', () => {
    expect(() => pairedBootstrapDifference([1, 0], [1])).toThrow('paired scores differ in length: 2 and 1 questions');
  });
});
