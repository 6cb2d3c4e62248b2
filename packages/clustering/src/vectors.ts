import { createHash } from 'node:crypto';

/** One document's embedding. `vector` may be a Float32Array straight from an encoder. */
export interface VectorItem {
  id: string;
  vector: ArrayLike<number>;
}

/**
 * Vectors to cluster: an array, or a function that starts a fresh scan each time it is called
 * (fitting on a sample needs two passes: one to draw the sample, one to assign everything).
 */
export type VectorScan = readonly VectorItem[] | (() => Iterable<VectorItem> | AsyncIterable<VectorItem>);

export async function* scanVectors(source: VectorScan): AsyncGenerator<VectorItem> {
  const items = typeof source === 'function' ? source() : source;
  for await (const item of items as AsyncIterable<VectorItem>) yield item;
}

/** Copies a vector to a plain array after checking its length and values; errors name the document and the index. */
export function checkedVector(item: VectorItem, dims: number | undefined, what = 'vector'): number[] {
  if (typeof item.id !== 'string' || item.id === '')
    throw new ClusteringInputError(`${what} has no document id (expected a non-empty string)`);
  const v = item.vector;
  if (v == null || typeof v.length !== 'number') {
    throw new ClusteringInputError(`${what} for document '${item.id}' is not an array of numbers`);
  }
  if (v.length === 0) throw new ClusteringInputError(`${what} for document '${item.id}' is empty`);
  if (dims !== undefined && v.length !== dims) {
    throw new ClusteringInputError(`${what} for document '${item.id}' has ${v.length} dims, expected ${dims}`);
  }
  const out = new Array<number>(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new ClusteringInputError(`${what} for document '${item.id}' has a non-finite value (${String(x)}) at index ${i}`);
    }
    out[i] = x;
  }
  return out;
}

/** Bad vectors, k or files: the message says which document, field or value and what was expected. */
export class ClusteringInputError extends Error {
  override name = 'ClusteringInputError';
}

export function squaredDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return s;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** Index of the nearest centroid by squared Euclidean distance (the k-means objective); ties go to the lower index. */
export function nearestCentroid(centroids: readonly number[][], v: ArrayLike<number>): { cluster: number; distance2: number } {
  let best = 0;
  let bestD = Number.POSITIVE_INFINITY;
  for (let c = 0; c < centroids.length; c++) {
    const d = squaredDistance(centroids[c], v);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return { cluster: best, distance2: bestD };
}

/**
 * A uniform pseudo-random key in [0, 1) from (seed, document id). Taking the documents with the
 * smallest keys is a seeded random sample that does not depend on the order documents are read in,
 * and that can be updated one document at a time.
 */
export function sampleKey(seed: number, id: string): number {
  const h = createHash('sha256').update(`${seed}\u0000${id}`).digest();
  // 48 bits fit a double exactly.
  return h.readUIntBE(0, 6) / 2 ** 48;
}
