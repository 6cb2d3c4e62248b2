import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ClusterModel,
  fitClusters,
  loadClusters,
  type RepresentativePick,
  reassignDocuments,
  saveClusters,
  type VectorScan,
} from '@rg/clustering';

/** The clustering of a corpus store lives next to it, one file per store. */
export const CLUSTERS_FILE = 'clusters.json';

export function clustersPath(storeDir: string): string {
  return join(storeDir, CLUSTERS_FILE);
}

/** The store's saved clusters were fitted with other settings, and no refit was asked. */
export class ClusterSettingsError extends Error {
  override name = 'ClusterSettingsError';
  constructor(
    readonly file: string,
    /** Each setting that differs, e.g. "k 3 (asked 2)". */
    readonly differs: string[],
  ) {
    super(`${file} was fitted with ${differs.join(', ')}; refit to replace it`);
  }
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
   * Write clusters.json here (default true). clusterCorpus passes false and saves the run's `changed` model only
   * after the cluster ids reached the vector backend: a failed step leaves the old file.
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
 * `refit` moves them). Different settings without `refit` are refused (ClusterSettingsError) rather than silently
 * replacing the saved clustering.
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
    if (differs.length > 0) throw new ClusterSettingsError(file, differs);
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
