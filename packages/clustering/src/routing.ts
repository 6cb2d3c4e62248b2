import { ClusteringInputError, checkedVector, dot, norm, squaredDistance } from './vectors.js';

export interface RouteOptions {
  /** How many clusters to return. Default 1. */
  topC?: number;
  /**
   * 'cosine' (default) suits normalised sentence embeddings: centroids of unit vectors are shorter than 1,
   * and cosine ignores that length. 'euclidean' ranks by the k-means distance itself.
   */
  metric?: 'cosine' | 'euclidean';
}

export interface Route {
  cluster: number;
  /** Cosine similarity (higher is nearer) or squared Euclidean distance (lower is nearer). */
  score: number;
}

/** The top-c clusters for a query vector, nearest first (ties to the lower cluster index). */
export function routeQuery(centroids: readonly number[][], query: ArrayLike<number>, options: RouteOptions = {}): Route[] {
  const topC = options.topC ?? 1;
  const metric = options.metric ?? 'cosine';
  if (!Number.isInteger(topC) || topC < 1) throw new ClusteringInputError(`topC must be an integer >= 1, got ${topC}`);
  if (centroids.length === 0) throw new ClusteringInputError('no centroids to route to');
  const q = checkedVector({ id: 'query', vector: query }, centroids[0].length, 'query vector');
  let routes: Route[];
  if (metric === 'cosine') {
    const qn = norm(q);
    if (qn === 0) throw new ClusteringInputError('query vector is all zeros: cosine similarity is undefined');
    routes = centroids.map((c, cluster) => {
      const cn = norm(c);
      return { cluster, score: cn === 0 ? 0 : dot(c, q) / (cn * qn) };
    });
    routes.sort((a, b) => b.score - a.score || a.cluster - b.cluster);
  } else if (metric === 'euclidean') {
    routes = centroids.map((c, cluster) => ({ cluster, score: squaredDistance(c, q) }));
    routes.sort((a, b) => a.score - b.score || a.cluster - b.cluster);
  } else {
    throw new ClusteringInputError(`metric must be 'cosine' or 'euclidean', got '${String(metric)}'`);
  }
  return routes.slice(0, topC);
}
