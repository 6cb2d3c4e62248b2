import { seededRandom } from '@rg/engine';

/** A statistic of per-question scores with its bootstrap interval. */
export interface Interval {
  /** The statistic on the questions as they are (not a bootstrap average). */
  estimate: number;
  low: number;
  high: number;
}

export interface BootstrapOptions {
  /** Resamples drawn (default BOOTSTRAP_RESAMPLES). */
  resamples?: number;
  /** Seed of the resampling (default 0): the same scores and seed give the same interval on every machine. */
  seed?: number;
  /** Coverage of the interval (default 0.95). */
  level?: number;
}

/** Enough resamples that the 2.5% and 97.5% percentiles move by well under a point of accuracy between seeds. */
export const BOOTSTRAP_RESAMPLES = 2000;

/**
 * Percentile bootstrap interval of the mean of per-question scores: resample the questions with replacement,
 * take each resample's mean, and report the (1 - level)/2 and (1 + level)/2 percentiles of those means.
 */
export function bootstrapMean(scores: readonly number[], options: BootstrapOptions = {}): Interval {
  return bootstrap([scores], (means) => means[0], options);
}

/**
 * Percentile bootstrap interval of mean(a) - mean(b) where a[i] and b[i] score the same question i with two
 * methods. Each resample draws question indices once and applies them to both methods, so what the questions
 * share (easy or hard for every method) cancels out: the interval is much narrower than two separate ones.
 */
export function pairedBootstrapDifference(a: readonly number[], b: readonly number[], options: BootstrapOptions = {}): Interval {
  if (a.length !== b.length) throw new RangeError(`paired scores differ in length: ${a.length} and ${b.length} questions`);
  return bootstrap([a, b], (means) => means[0] - means[1], options);
}

function bootstrap(samples: ReadonlyArray<readonly number[]>, statistic: (means: number[]) => number, options: BootstrapOptions): Interval {
  const n = samples[0].length;
  if (n === 0) throw new RangeError('bootstrap of no scores');
  if (samples.some((s) => s.some((v) => !Number.isFinite(v)))) throw new RangeError('bootstrap of a score that is not a finite number');
  const resamples = options.resamples ?? BOOTSTRAP_RESAMPLES;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`resamples must be a positive integer, got ${resamples}`);
  const level = options.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);

  const random = seededRandom(options.seed ?? 0);
  const values = new Float64Array(resamples);
  const sums = new Array<number>(samples.length);
  for (let r = 0; r < resamples; r++) {
    sums.fill(0);
    for (let i = 0; i < n; i++) {
      const j = Math.floor(random() * n);
      for (let s = 0; s < samples.length; s++) sums[s] += samples[s][j];
    }
    values[r] = statistic(sums.map((sum) => sum / n));
  }
  values.sort();
  const means = samples.map((s) => s.reduce((t, v) => t + v, 0) / n);
  return { estimate: statistic(means), low: quantile(values, (1 - level) / 2), high: quantile(values, (1 + level) / 2) };
}

/** Linear interpolation between order statistics (R's type 7, numpy's default) of sorted values. */
function quantile(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}
