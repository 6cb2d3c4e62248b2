import type { DocAdapterKey } from '@rg/adapter-store';
import { type ClusterModel, clusterAdapterId, clusterMembers } from '@rg/clustering';
import {
  type EncodeContext,
  type EncodeOptions,
  encodeGroups,
  type GroupHooks,
  type GroupOutcome,
  type Recipe,
  type RecipeRecord,
} from '@rg/lora-trainer';
import { type EncodeFileOptions, withFileRun } from './encode-file.js';

/** What a cluster's adapter is trained on: its representatives (the method's limited-resources recipe) or every member. */
export type TrainOn = 'representatives' | 'all';

export interface ClusterGroup {
  cluster: number;
  /** The adapter-store id (clusterAdapterId). */
  adapterId: string;
  records: RecipeRecord[];
  /** Documents of the group with no (usable) augmented record. */
  missing: string[];
}

/** The augmented records each cluster's adapter trains on. */
export function clusterGroups(model: ClusterModel, records: ReadonlyMap<string, RecipeRecord>, on: TrainOn): ClusterGroup[] {
  const members = on === 'all' ? clusterMembers(model) : model.representatives.map((reps) => reps.map((r) => r.id));
  return members.map((ids, cluster) => ({
    cluster,
    adapterId: clusterAdapterId(model.k, cluster),
    records: ids.flatMap((id) => records.get(id) ?? []),
    missing: ids.filter((id) => !records.has(id)),
  }));
}

/**
 * One adapter per cluster (encodeGroups: the records trained together, resumable, retrained when the cluster's
 * documents changed), saved under scope + cluster adapter id with the cluster number in its trainingConfig.
 */
export function encodeClusters(
  groups: readonly ClusterGroup[],
  ctx: EncodeContext,
  options: EncodeOptions,
  hooks: GroupHooks = {},
): Promise<GroupOutcome[]> {
  return encodeGroups(
    groups.map((g) => ({ adapterId: g.adapterId, records: g.records, metadata: { cluster: g.cluster } })),
    ctx,
    options,
    hooks,
  );
}

export interface EncodeClusterFileOptions extends Omit<EncodeFileOptions, 'sample' | 'docsPerPass'> {
  /** The corpus store's clusters (clusterCorpus, or loadClusters of its clusters.json). */
  clusters: ClusterModel;
  on: TrainOn;
}

export interface EncodeClusterFileHooks {
  /** A line for the user: a record trained partially or skipped, a base_weight initialised, the warm-up used. */
  onNote?: (text: string) => void;
  /** Documents of the groups with no usable augmented record (called only when there are some). */
  onMissing?: (ids: string[]) => void;
  /** Before the first cluster: how many adapters will be trained or skipped. */
  onStart?: (clusters: number) => void;
  onGroup?: (outcome: GroupOutcome) => void;
}

export interface EncodeClusterFileSummary {
  store: string;
  scope: Omit<DocAdapterKey, 'id'>;
  /** As recorded with every adapter. */
  recipe: Recipe;
  k: number;
  on: TrainOn;
  /** Records trained on, over all clusters. */
  documents: number;
  missingRecords: number;
  trained: number;
  skipped: number;
  failed: number;
  failedIds: string[];
  seconds: number;
  /** Of the adapters trained now. */
  trainSeconds: number;
}

/**
 * One adapter per cluster of a corpus store, on the augmented records (an augment JSON Lines file) of its
 * representatives or of all its members, into an adapter store beside the documents' adapters (the same scope
 * and recipe as encodeAugmentedFile). Resumable: a cluster whose adapter is stored for the same documents is skipped.
 * Errors of the trainer pass through as in encodeAugmentedFile.
 */
export async function encodeClusterFile(
  options: EncodeClusterFileOptions,
  hooks: EncodeClusterFileHooks = {},
): Promise<EncodeClusterFileSummary> {
  return withFileRun(options, hooks.onNote, { batchedAdapters: false }, async (records, encode, recipe) => {
    const groups = clusterGroups(options.clusters, new Map(records.map((r) => [r.passageId, r])), options.on);
    const missing = groups.flatMap((g) => g.missing);
    if (missing.length > 0) hooks.onMissing?.(missing);
    hooks.onStart?.(groups.length);
    const t0 = performance.now();
    const outcomes = await encodeClusters(groups, encode, options.training, { onGroup: hooks.onGroup });
    const count = (s: GroupOutcome['status']) => outcomes.filter((o) => o.status === s).length;
    const trainedMs = outcomes.reduce((ms, o) => ms + (o.status === 'trained' ? o.ms : 0), 0);
    return {
      store: encode.store.root,
      scope: encode.scope,
      recipe,
      k: options.clusters.k,
      on: options.on,
      documents: groups.reduce((n, g) => n + g.records.length, 0),
      missingRecords: missing.length,
      trained: count('trained'),
      skipped: count('skipped'),
      failed: count('failed'),
      failedIds: outcomes.flatMap((o) => (o.status === 'failed' ? [o.id] : [])),
      seconds: Math.round((performance.now() - t0) / 100) / 10,
      trainSeconds: Math.round(trainedMs / 100) / 10,
    };
  });
}
