import { sampleKey, squaredDistance } from './vectors.js';

/**
 * Greedy k-means++ seeding (Arthur & Vassilvitskii 2007, with the 2 + ln k local trials scikit-learn uses): each new
 * centre is the best of a few candidates drawn with probability proportional to the squared distance to the nearest
 * centre so far. Written here on flat loops because ml-kmeans' own k-means++ copies a matrix row per distance and took
 * ~15 s for 5,000 x 384 with k = 50 (this takes well under a second); its result seeds ml-kmeans' Lloyd iterations.
 * Random draws come from sha256(seed, draw number), so the seeding depends only on the seed and the data order.
 */
export function kmeansPlusPlus(data: readonly number[][], k: number, seed: number): number[][] {
  const n = data.length;
  let draw = 0;
  const uniform = () => sampleKey(seed, `kmeans++ ${draw++}`);
  const trials = 2 + Math.floor(Math.log(k));
  const centres: number[][] = [data[Math.floor(uniform() * n)]];
  let closest = new Float64Array(n);
  for (let i = 0; i < n; i++) closest[i] = squaredDistance(data[i], centres[0]);
  const cumulative = new Float64Array(n);
  let candidateD2 = new Float64Array(n);
  let bestD2 = new Float64Array(n);
  while (centres.length < k) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      total += closest[i];
      cumulative[i] = total;
    }
    let best = -1;
    let bestPotential = Number.POSITIVE_INFINITY;
    for (let t = 0; t < trials; t++) {
      // All points on a centre already (duplicates): any point is as good as another.
      const candidate = total > 0 ? lowerBound(cumulative, uniform() * total) : Math.floor(uniform() * n);
      let potential = 0;
      for (let i = 0; i < n; i++) {
        const d = Math.min(closest[i], squaredDistance(data[i], data[candidate]));
        candidateD2[i] = d;
        potential += d;
      }
      if (potential < bestPotential) {
        bestPotential = potential;
        best = candidate;
        [bestD2, candidateD2] = [candidateD2, bestD2];
      }
    }
    centres.push(data[best]);
    [closest, bestD2] = [bestD2, closest];
  }
  return centres.map((c) => [...c]);
}

/** First index whose cumulative weight exceeds `target`. */
function lowerBound(cumulative: Float64Array, target: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
