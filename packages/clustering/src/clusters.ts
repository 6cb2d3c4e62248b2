import { kmeans } from 'ml-kmeans';
import { BottomK } from './bottom-k.js';
import { kmeansPlusPlus } from './init.js';
import {
  ClusteringInputError,
  checkedVector,
  nearestCentroid,
  sampleKey,
  scanVectors,
  type VectorItem,
  type VectorScan,
} from './vectors.js';

/** How representatives are chosen: the m members nearest the centroid, or a seeded random sample of m members. */
export type RepresentativePick = 'centroid' | 'sample';

export interface FitOptions {
  /** Number of clusters. */
  k: number;
  /** Seeds the k-means++ initialisation, the fit sample and the `sample` pick. Default 0. */
  seed?: number;
  /** Default 100. */
  maxIterations?: number;
  /** Stop when no centroid moves more than this (squared Euclidean distance). Default 1e-6. */
  tolerance?: number;
  /** Fit on a seeded sample of at most this many vectors, then assign all of them in a streaming pass. Default: fit on all. */
  sampleSize?: number;
  /** Representatives kept per cluster (m). Default 5. */
  representatives?: number;
  /** Default 'centroid'. */
  pick?: RepresentativePick;
}

export interface Representative {
  id: string;
  /** What the member was ranked by: squared distance to the centroid (`centroid` pick) or its sample key (`sample` pick). */
  key: number;
}

/** A fitted clustering: centroids, every document's cluster, sizes, inertia and representatives. */
export interface ClusterModel {
  k: number;
  dims: number;
  seed: number;
  maxIterations: number;
  tolerance: number;
  /** The sample size asked for, or null when fitted on all vectors. */
  sampleSize: number | null;
  /** How many vectors k-means actually ran on. */
  fittedOn: number;
  iterations: number;
  converged: boolean;
  centroids: number[][];
  /** Document id -> cluster index. */
  assignments: Map<string, number>;
  sizes: number[];
  /** Sum over all assigned documents of the squared distance to their centroid. */
  inertia: number;
  pick: RepresentativePick;
  /** Representatives per cluster asked for (m); a cluster smaller than m has all its members. */
  m: number;
  /** Per cluster, ascending by key. */
  representatives: Representative[][];
}

interface ResolvedOptions {
  k: number;
  seed: number;
  maxIterations: number;
  tolerance: number;
  sampleSize: number | null;
  m: number;
  pick: RepresentativePick;
}

function resolve(opts: FitOptions): ResolvedOptions {
  const intAtLeast = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new ClusteringInputError(`${name} must be an integer >= ${min}, got ${v}`);
  };
  intAtLeast('k', opts.k, 1);
  const seed = opts.seed ?? 0;
  intAtLeast('seed', seed, 0);
  const maxIterations = opts.maxIterations ?? 100;
  intAtLeast('maxIterations', maxIterations, 1);
  const tolerance = opts.tolerance ?? 1e-6;
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new ClusteringInputError(`tolerance must be a number >= 0, got ${tolerance}`);
  if (opts.sampleSize !== undefined) intAtLeast('sampleSize', opts.sampleSize, 1);
  const m = opts.representatives ?? 5;
  intAtLeast('representatives', m, 0);
  const pick = opts.pick ?? 'centroid';
  if (pick !== 'centroid' && pick !== 'sample')
    throw new ClusteringInputError(`pick must be 'centroid' or 'sample', got '${String(pick)}'`);
  return { k: opts.k, seed, maxIterations, tolerance, sampleSize: opts.sampleSize ?? null, m, pick };
}

interface Keyed {
  key: number;
  id: string;
  vector: number[];
}

/**
 * k-means (k-means++ init, seeded) over the vectors. With `sampleSize`, k-means runs on a seeded sample and a second
 * scan assigns every vector to its nearest centroid, so memory stays O(sampleSize * dims) plus the id -> cluster map.
 * The fit sample and the order k-means sees it in depend only on the seed and the document ids, so the same documents
 * and seed give the same clusters whatever order the store returns them in.
 */
export async function fitClusters(source: VectorScan, options: FitOptions): Promise<ClusterModel> {
  const o = resolve(options);
  const seen = new Set<string>();
  let dims: number | undefined;
  let count = 0;
  const all: Keyed[] = [];
  const sample = o.sampleSize === null ? null : new BottomK<number[]>(o.sampleSize);
  for await (const item of scanVectors(source)) {
    const vector = checkedVector(item, dims);
    dims ??= vector.length;
    if (seen.has(item.id)) throw new ClusteringInputError(`document '${item.id}' appears twice in the vectors`);
    seen.add(item.id);
    count++;
    const key = sampleKey(o.seed, item.id);
    if (sample) sample.offer({ key, id: item.id, value: vector });
    else all.push({ key, id: item.id, vector });
  }
  if (dims === undefined) throw new ClusteringInputError('no vectors to cluster');
  if (o.k > count) throw new ClusteringInputError(`k=${o.k} exceeds the number of vectors (${count})`);
  const fitSet: Keyed[] = sample ? sample.items.map((e) => ({ key: e.key, id: e.id, vector: e.value })) : all;
  if (o.k > fitSet.length) throw new ClusteringInputError(`k=${o.k} exceeds the fit sample size (${fitSet.length}); raise sampleSize`);
  fitSet.sort((a, b) => a.key - b.key || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  const data = fitSet.map((e) => e.vector);
  const result = kmeans(data, o.k, {
    seed: o.seed,
    maxIterations: o.maxIterations,
    tolerance: o.tolerance,
    initialization: kmeansPlusPlus(data, o.k, o.seed),
  });

  const model: ClusterModel = {
    k: o.k,
    dims,
    seed: o.seed,
    maxIterations: o.maxIterations,
    tolerance: o.tolerance,
    sampleSize: o.sampleSize,
    fittedOn: fitSet.length,
    iterations: result.iterations,
    converged: result.converged,
    centroids: result.centroids,
    assignments: new Map(),
    sizes: new Array<number>(o.k).fill(0),
    inertia: 0,
    pick: o.pick,
    m: o.m,
    representatives: Array.from({ length: o.k }, () => []),
  };
  // Without a sample every vector is already in memory: no second scan, so one-shot iterables work too.
  const assignSource: VectorScan = sample ? source : all;
  await assignInto(model, assignSource, false);
  return model;
}

/**
 * Assigns documents that are not in the model yet to their nearest existing centroid, updating sizes, inertia and
 * representatives; centroids do not move (refit with `fitClusters` to move them). Documents already assigned are skipped.
 * Returns the ids that were added.
 */
export async function assignDocuments(model: ClusterModel, source: VectorScan): Promise<string[]> {
  return assignInto(model, source, true);
}

/** What `reassignDocuments` changed, by document id. */
export interface Reassignment {
  added: string[];
  removed: string[];
  /** Documents whose cluster changed (their vector changed since the last pass). */
  moved: string[];
}

/**
 * Assigns every document of `source` again to the model's fixed centroids, as if the model had been fitted on them:
 * unchanged documents keep their cluster, new ones join, documents no longer in the source leave (and their
 * representative places go to the next nearest members). Sizes, inertia and representatives are recomputed exactly.
 */
export async function reassignDocuments(model: ClusterModel, source: VectorScan): Promise<Reassignment> {
  const before = model.assignments;
  model.assignments = new Map();
  model.sizes = new Array<number>(model.k).fill(0);
  model.inertia = 0;
  model.representatives = Array.from({ length: model.k }, () => []);
  await assignInto(model, source, false);
  const added: string[] = [];
  const moved: string[] = [];
  for (const [id, c] of model.assignments) {
    const old = before.get(id);
    if (old === undefined) added.push(id);
    else if (old !== c) moved.push(id);
  }
  const removed = [...before.keys()].filter((id) => !model.assignments.has(id));
  return { added, removed, moved };
}

async function assignInto(model: ClusterModel, source: VectorScan, skipKnown: boolean): Promise<string[]> {
  const reps = model.representatives.map((list) => {
    const b = new BottomK<null>(model.m);
    for (const r of list) b.offer({ key: r.key, id: r.id, value: null });
    return b;
  });
  const added: string[] = [];
  for await (const item of scanVectors(source) as AsyncIterable<VectorItem>) {
    if (skipKnown && model.assignments.has(item.id)) continue;
    const vector = checkedVector(item, model.dims);
    if (model.assignments.has(item.id)) throw new ClusteringInputError(`document '${item.id}' appears twice in the vectors`);
    const { cluster, distance2 } = nearestCentroid(model.centroids, vector);
    model.assignments.set(item.id, cluster);
    model.sizes[cluster]++;
    model.inertia += distance2;
    const key = model.pick === 'centroid' ? distance2 : sampleKey(model.seed, item.id);
    reps[cluster].offer({ key, id: item.id, value: null });
    added.push(item.id);
  }
  model.representatives = reps.map((b) => b.items.map((e) => ({ id: e.id, key: e.key })));
  return added;
}

/** Document ids per cluster, sorted. */
export function clusterMembers(model: ClusterModel): string[][] {
  const members: string[][] = Array.from({ length: model.k }, () => []);
  for (const [id, c] of model.assignments) members[c].push(id);
  for (const list of members) list.sort();
  return members;
}
