import type { DocAdapterKey, LoraPair } from '@rg/adapter-store';
import { type ClusterModel, clusterAdapterId, clusterMembers } from '@rg/clustering';
import { type DocOutcome, type EncodeContext, type EncodeOptions, type RecipeRecord, recipeExamples, trainAdapter } from '@rg/lora-trainer';

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
 * One adapter per cluster, trained with the trainer's recipe on the examples of all the group's records together
 * (shuffled across documents each epoch), saved under scope + cluster adapter id. Resumable like encodeDocuments:
 * an adapter already stored that verifies and was trained on the same documents is skipped. One trained on other
 * documents (the representatives changed, or a document was deleted: its knowledge must leave the adapter too) is
 * trained again. A failure is reported and the run goes on.
 */
export async function encodeClusters(
  groups: readonly ClusterGroup[],
  ctx: EncodeContext,
  options: EncodeOptions,
  onCluster?: (outcome: DocOutcome) => void,
): Promise<DocOutcome[]> {
  const outcomes: DocOutcome[] = [];
  const scale = ctx.base.config.alpha / ctx.base.config.rank;
  for (const group of groups) {
    const key: DocAdapterKey = { ...ctx.scope, id: group.adapterId };
    let outcome: DocOutcome;
    try {
      const stored = ctx.store.get(key);
      const documents = group.records.map((r) => r.passageId);
      if (
        stored &&
        sameDocuments(stored.trainingConfig.documents, documents) &&
        ctx.store.verify(key, { modelFingerprint: ctx.modelFingerprint }).ok
      ) {
        outcome = { id: group.adapterId, status: 'skipped', reason: 'already stored' };
      } else {
        const t0 = performance.now();
        let dropped = 0;
        const examples = group.records.flatMap((record) => {
          const r = recipeExamples(record, ctx.encoder, { seed: options.seed, maxTokens: options.maxTokens });
          dropped += r.dropped;
          return r.examples;
        });
        if (examples.length === 0) {
          throw new Error(`no training examples (${group.records.length} augmented records, ${dropped} examples over the token limit)`);
        }
        const result = await trainAdapter(ctx.session, ctx.base.modules, examples, { ...options, scale });
        const modules = new Map<string, LoraPair>();
        for (const [k, t] of result.tensors) {
          const base = ctx.base.modules.get(k) as LoraPair;
          modules.set(k, {
            inFeatures: base.inFeatures,
            outFeatures: base.outFeatures,
            a: Float32Array.from(t.a),
            b: Float32Array.from(t.b),
          });
        }
        ctx.store.put(
          key,
          { config: ctx.base.config, modules },
          {
            modelFingerprint: ctx.modelFingerprint,
            mode: options.mode === 'lora' ? 'trained' : 'gradient',
            trainingConfig: {
              ...options,
              cluster: group.cluster,
              documents,
              examples: examples.length,
              droppedExamples: dropped,
              losses: result.losses,
            },
          },
        );
        outcome = {
          id: group.adapterId,
          status: 'trained',
          examples: examples.length,
          tokens: result.tokens,
          finalLoss: result.losses[result.losses.length - 1],
          ms: performance.now() - t0,
        };
      }
    } catch (e) {
      outcome = { id: group.adapterId, status: 'failed', error: (e as Error).message };
    }
    outcomes.push(outcome);
    onCluster?.(outcome);
  }
  return outcomes;
}

function sameDocuments(stored: unknown, now: string[]): boolean {
  return Array.isArray(stored) && stored.length === now.length && [...stored].sort().join('\u0000') === [...now].sort().join('\u0000');
}
