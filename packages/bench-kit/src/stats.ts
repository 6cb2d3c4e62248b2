/** One measured quantity over repeated runs, as every benchmark reports it (in the unit of the samples). */
export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
}

/** The samples in ascending order; a summary of nothing, or of a NaN, would print a plausible wrong figure. */
function sortedSamples(xs: readonly number[]): number[] {
  if (xs.length === 0) throw new RangeError('no samples to summarise');
  if (xs.some((x) => !Number.isFinite(x))) throw new RangeError(`a sample is not a finite number: ${xs.find((x) => !Number.isFinite(x))}`);
  return [...xs].sort((a, b) => a - b);
}

function quantileOfSorted(s: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile ${q} is outside [0, 1]`);
  const at = q * (s.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (at - lo) * (s[hi] - s[lo]);
}

/**
 * The q-quantile (q in [0, 1]) by linear interpolation between the closest ranks (Hyndman and Fan's type 7), the
 * definition of numpy's `percentile` and of Python's `statistics.quantiles(method='inclusive')`: a Python peer computes
 * the same figure from the same samples. The 0.5-quantile is the median.
 */
export function percentile(xs: readonly number[], q: number): number {
  return quantileOfSorted(sortedSamples(xs), q);
}

/** The median: the mean of the two middle samples when their count is even. */
export function median(xs: readonly number[]): number {
  return percentile(xs, 0.5);
}

export function mean(xs: readonly number[]): number {
  return sortedSamples(xs).reduce((a, b) => a + b, 0) / xs.length;
}

/** Count, mean and the p50 / p95 / p99 of the samples (sorted once). */
export function summary(xs: readonly number[]): Summary {
  const s = sortedSamples(xs);
  return {
    n: s.length,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    p50: quantileOfSorted(s, 0.5),
    p95: quantileOfSorted(s, 0.95),
    p99: quantileOfSorted(s, 0.99),
  };
}
