import { describe, expect, it } from 'vitest';
import { mean, median, percentile, summary } from './stats.js';

describe('stats', () => {
  it('median is the middle sample, or the mean of the two middle ones, whatever the order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('percentiles interpolate between ranks as numpy.percentile does', () => {
    const xs = Array.from({ length: 20 }, (_, i) => 20 - i); // 1..20, reversed
    // numpy.percentile(range(1, 21), [0, 50, 95, 99, 100]) -> 1, 10.5, 19.05, 19.81, 20
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile(xs, 0.5)).toBe(10.5);
    expect(percentile(xs, 0.95)).toBeCloseTo(19.05, 12);
    expect(percentile(xs, 0.99)).toBeCloseTo(19.81, 12);
    expect(percentile(xs, 1)).toBe(20);
  });

  it('summary gives count, mean and p50/p95/p99 and leaves the samples unsorted', () => {
    const xs = [5, 1, 4, 2, 3];
    expect(summary(xs)).toEqual({ n: 5, mean: 3, p50: 3, p95: 4.8, p99: 4.96 });
    expect(xs).toEqual([5, 1, 4, 2, 3]);
    expect(mean([1, 2, 6])).toBe(3);
  });

  it('refuses no samples, a non-finite sample and a quantile outside [0, 1]', () => {
    expect(() => summary([])).toThrow(/no samples/);
    expect(() => median([1, Number.NaN])).toThrow(/not a finite number: NaN/);
    expect(() => percentile([1, 2], 1.5)).toThrow(/outside \[0, 1\]/);
  });
});
