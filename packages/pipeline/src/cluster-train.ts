import { type ClusterModel, clusterAdapterId, clusterMembers } from '@rg/clustering';
import {
  type EncodeContext,
  type EncodeOptions,
  encodeGroups,
  type GroupHooks,
  type GroupOutcome,
  type RecipeRecord,
} from '@rg/lora-trainer';

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
