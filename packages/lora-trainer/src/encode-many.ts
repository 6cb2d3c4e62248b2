import type { TrainingExample } from './batching.js';
import {
  checkStoredRecipes,
  type EncodeContext,
  type EncodeOptions,
  type GroupHooks,
  type GroupOutcome,
  groupExamples,
  refusedDocumentId,
  storedForDocuments,
  storeTrained,
  type TrainingGroup,
} from './encode.js';
import { trainMany } from './many.js';
import { type RecipeRecord, resolveRecipe } from './recipe.js';

/**
 * encodeDocuments with `docsPerPass` documents trained together in each pass (trainMany): the same adapters, stored
 * the same way, skipped and refused for the same reasons, with `docsPerPass` recorded in their trainingConfig. The
 * context's session must be created with `batchedAdapters`. Outcomes come back in the records' order; `onGroup`
 * fires as each document finishes, and `onBatch` after every pass (its loss is the mean of the pass's adapters).
 */
export async function encodeDocumentsMany(
  records: Iterable<RecipeRecord>,
  ctx: EncodeContext,
  options: EncodeOptions & { docsPerPass: number },
  hooks: GroupHooks = {},
): Promise<GroupOutcome[]> {
  const list = [...records];
  checkStoredRecipes(
    list.filter((r) => !refusedDocumentId(r.passageId)).map((r) => r.passageId),
    ctx,
    options,
  );
  const recipe = resolveRecipe(options.recipe);
  const outcomes: GroupOutcome[] = new Array(list.length);
  const report = (index: number, outcome: GroupOutcome) => {
    outcomes[index] = outcome;
    hooks.onGroup?.(outcome);
  };
  const todo: Array<{ index: number; group: TrainingGroup; examples: TrainingExample[]; dropped: number }> = [];
  for (const [index, record] of list.entries()) {
    const id = record.passageId;
    const refused = refusedDocumentId(id);
    if (refused) {
      report(index, refused);
      continue;
    }
    const group: TrainingGroup = { adapterId: id, records: [record] };
    try {
      if (storedForDocuments(ctx, { ...ctx.scope, id }, [id])) report(index, { id, status: 'skipped', reason: 'already stored' });
      else todo.push({ index, group, ...groupExamples(group, ctx, options, recipe) });
    } catch (e) {
      report(index, { id, status: 'failed', error: (e as Error).message });
    }
  }
  const epochs = options.mode === 'gradient' ? 1 : options.epochs;
  for (const t of todo) {
    const batches = epochs * Math.ceil(t.examples.length / options.batchSize);
    hooks.onGroupStart?.(t.group, { examples: t.examples.length, batches, resumedBatches: 0 });
  }
  await trainMany(
    ctx.session,
    ctx.base.modules,
    todo.map((t) => t.examples),
    {
      ...options,
      scale: ctx.base.config.alpha / ctx.base.config.rank,
      onPass: (p) => hooks.onBatch?.({ loss: p.losses.reduce((a, b) => a + b, 0) / p.losses.length, tokens: p.tokens }),
      onDocument: (j, trained) => {
        const { index, group, examples, dropped } = todo[j];
        const id = group.adapterId;
        if (trained.status === 'failed') {
          report(index, { id, status: 'failed', error: trained.error });
          return;
        }
        try {
          const ms = trained.result.totalMs;
          report(index, storeTrained(ctx, group, options, { result: trained.result, examples: examples.length, dropped, ms }));
        } catch (e) {
          report(index, { id, status: 'failed', error: (e as Error).message });
        }
      },
    },
  );
  return outcomes;
}
