import { BottomK } from './bottom-k.js';
import { type ClusterModel, type FitOptions, fitClusters } from './clusters.js';
import { ClusteringInputError, checkedVector, sampleKey, scanVectors, type VectorScan } from './vectors.js';

/**
 * Mean silhouette coefficient (Euclidean distance) of the points: s(i) = (b - a) / max(a, b), where a is the mean
 * distance to the other members of its cluster and b the smallest mean distance to another cluster's members.
 * A point alone in its cluster scores 0. Returns null when fewer than two clusters are present. O(n^2 * dims).
 */
export function silhouetteScore(vectors: readonly ArrayLike<number>[], labels: readonly number[]): number | null {
  if (vectors.length !== labels.length) {
    throw new ClusteringInputError(`silhouette: ${vectors.length} vectors but ${labels.length} labels`);
  }
  const n = vectors.length;
  const clusterIds = [...new Set(labels)];
  if (clusterIds.length < 2) return null;
  const index = new Map(clusterIds.map((c, i) => [c, i]));
  const lab = labels.map((l) => index.get(l) as number);
  const counts = new Array<number>(clusterIds.length).fill(0);
  for (const l of lab) counts[l]++;
  // sums[i * C + c]: total distance from point i to the members of cluster c; each pair is measured once.
  const C = clusterIds.length;
  const sums = new Float64Array(n * C);
  for (let i = 0; i < n; i++) {
    const vi = vectors[i];
    for (let j = i + 1; j < n; j++) {
      const vj = vectors[j];
      let s = 0;
      for (let d = 0; d < vi.length; d++) {
        const x = vi[d] - vj[d];
        s += x * x;
      }
      const dist = Math.sqrt(s);
      sums[i * C + lab[j]] += dist;
      sums[j * C + lab[i]] += dist;
    }
  }
  let total = 0;
  for (let i = 0; i < n; i++) {
    const own = lab[i];
    if (counts[own] === 1) continue;
    const a = sums[i * C + own] / (counts[own] - 1);
    let b = Number.POSITIVE_INFINITY;
    for (let c = 0; c < C; c++) {
      if (c !== own && counts[c] > 0) b = Math.min(b, sums[i * C + c] / counts[c]);
    }
    const m = Math.max(a, b);
    total += m === 0 ? 0 : (b - a) / m;
  }
  return total / n;
}

export interface KReport {
  k: number;
  inertia: number;
  /** Mean silhouette over a seeded sample of the documents (all of them when there are few); null for k = 1. */
  silhouette: number | null;
  silhouetteSampleSize: number;
  iterations: number;
  converged: boolean;
  /** Size of the smallest and largest cluster: a hint of degenerate clusterings. */
  minSize: number;
  maxSize: number;
}

export interface EvaluateKOptions extends Omit<FitOptions, 'k' | 'representatives' | 'pick'> {
  /** Silhouette is O(n^2): computed on a seeded sample of at most this many documents. Default 2000. */
  silhouetteSample?: number;
}

/** Fits k-means for each k and reports inertia and silhouette, to help choose k (look for the elbow / the highest silhouette). */
export async function evaluateK(source: VectorScan, ks: readonly number[], options: EvaluateKOptions = {}): Promise<KReport[]> {
  const seed = options.seed ?? 0;
  const limit = options.silhouetteSample ?? 2000;
  if (!Number.isInteger(limit) || limit < 2) throw new ClusteringInputError(`silhouetteSample must be an integer >= 2, got ${limit}`);
  const sample = new BottomK<number[]>(limit);
  let dims: number | undefined;
  for await (const item of scanVectors(source)) {
    const v = checkedVector(item, dims);
    dims ??= v.length;
    sample.offer({ key: sampleKey(seed, item.id), id: item.id, value: v });
  }
  const reports: KReport[] = [];
  for (const k of ks) {
    const model: ClusterModel = await fitClusters(source, { ...options, k, representatives: 0 });
    const labels = sample.items.map((e) => model.assignments.get(e.id) as number);
    reports.push({
      k,
      inertia: model.inertia,
      silhouette: silhouetteScore(
        sample.items.map((e) => e.value),
        labels,
      ),
      silhouetteSampleSize: sample.items.length,
      iterations: model.iterations,
      converged: model.converged,
      minSize: Math.min(...model.sizes),
      maxSize: Math.max(...model.sizes),
    });
  }
  return reports;
}
