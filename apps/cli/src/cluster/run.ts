import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ClusterModel,
  fitClusters,
  type KReport,
  loadClusters,
  type RepresentativePick,
  reassignDocuments,
  saveClusters,
  type VectorScan,
} from '@rg/clustering';
import { UsageError } from '../errors.js';

/** The clustering of a corpus store lives next to it, one file per store. */
export const CLUSTERS_FILE = 'clusters.json';

export function clustersPath(storeDir: string): string {
  return join(storeDir, CLUSTERS_FILE);
}

export interface ClusterSettings {
  k: number;
  seed: number;
  representatives: number;
  pick: RepresentativePick;
  sampleSize?: number;
  maxIterations: number;
  tolerance: number;
  /** Fit again even when the store already has clusters. */
  refit: boolean;
  /**
   * Write clusters.json here (default true). `rg cluster` passes false and saves the run's `changed`
   * model only after the cluster ids reached the vector backend: a failed step leaves the old file.
   */
  save?: boolean;
}

export interface ClusterRun {
  model: ClusterModel;
  /** True when k-means ran now; false when new documents were assigned to the saved centroids. */
  fitted: boolean;
  /** Documents that joined the clusters in this run (all of them when fitted). */
  added: number;
  /** Documents no longer in the store, dropped from the clusters. */
  removed: number;
  /** Documents whose cluster changed because their text (so their vector) changed. */
  moved: number;
  /** The model differs from the saved file (fitted, or documents joined, left or moved). */
  changed: boolean;
}

/**
 * Fits the store's clusters, or, when the store already has clusters with the same settings, assigns the current
 * documents to the saved centroids: new documents join, deleted ones leave, the others stay (centroids stay put;
 * `refit` moves them). Different settings without `refit` are refused rather than silently replacing the saved clustering.
 */
export async function clusterStore(storeDir: string, vectors: VectorScan, s: ClusterSettings): Promise<ClusterRun> {
  const file = clustersPath(storeDir);
  if (!s.refit && existsSync(file)) {
    const model = loadClusters(file);
    const differs: string[] = [];
    if (model.k !== s.k) differs.push(`k ${model.k} (asked ${s.k})`);
    if (model.seed !== s.seed) differs.push(`seed ${model.seed} (asked ${s.seed})`);
    if (model.pick !== s.pick) differs.push(`pick ${model.pick} (asked ${s.pick})`);
    if (model.m !== s.representatives) differs.push(`representatives ${model.m} (asked ${s.representatives})`);
    if (differs.length > 0) {
      throw new UsageError(`${file} was fitted with ${differs.join(', ')}; pass --refit to replace it`);
    }
    const change = await reassignDocuments(model, vectors);
    const changed = change.added.length + change.removed.length + change.moved.length;
    if (changed > 0 && s.save !== false) saveClusters(file, model);
    return {
      model,
      fitted: false,
      added: change.added.length,
      removed: change.removed.length,
      moved: change.moved.length,
      changed: changed > 0,
    };
  }
  const model = await fitClusters(vectors, {
    k: s.k,
    seed: s.seed,
    representatives: s.representatives,
    pick: s.pick,
    sampleSize: s.sampleSize,
    maxIterations: s.maxIterations,
    tolerance: s.tolerance,
  });
  if (s.save !== false) saveClusters(file, model);
  return { model, fitted: true, added: model.assignments.size, removed: 0, moved: 0, changed: true };
}

/** What `rg cluster` and `rg cluster show` print with --json. */
export function summarize(model: ClusterModel, file: string) {
  return {
    file,
    k: model.k,
    dims: model.dims,
    seed: model.seed,
    documents: model.assignments.size,
    fittedOn: model.fittedOn,
    iterations: model.iterations,
    converged: model.converged,
    inertia: model.inertia,
    pick: model.pick,
    clusters: model.sizes.map((size, cluster) => ({
      cluster,
      size,
      representatives: model.representatives[cluster].map((r) => r.id),
    })),
  };
}

export function formatSummary(s: ReturnType<typeof summarize>): string {
  const lines = [
    `${s.documents} documents in k=${s.k} clusters (seed ${s.seed}, fitted on ${s.fittedOn}, ${s.iterations} iterations${
      s.converged ? ', converged' : ', NOT converged: raise --max-iterations'
    })`,
    `inertia ${s.inertia.toPrecision(6)}; representatives picked by ${s.pick}`,
    'cluster  size  representatives',
  ];
  for (const c of s.clusters) {
    lines.push(`${String(c.cluster).padStart(7)}  ${String(c.size).padStart(4)}  ${c.representatives.join(', ')}`);
  }
  lines.push(`saved in ${s.file}`);
  return lines.join('\n');
}

export function formatKReports(reports: KReport[]): string {
  const lines = ['    k      inertia  silhouette  smallest  largest'];
  for (const r of reports) {
    lines.push(
      `${String(r.k).padStart(5)}  ${r.inertia.toPrecision(6).padStart(11)}  ${(r.silhouette === null ? '-' : r.silhouette.toFixed(4)).padStart(10)}  ${String(r.minSize).padStart(8)}  ${String(r.maxSize).padStart(7)}`,
    );
  }
  const n = reports[0]?.silhouetteSampleSize;
  if (n !== undefined) lines.push(`silhouette over ${n} documents; choose k at the elbow of inertia or the highest silhouette`);
  return lines.join('\n');
}
