import { type DocAdapterKey, describeKey } from '@rg/adapter-store';
import type { TrainingExample } from './batching.js';
import { CheckpointFile } from './checkpoint.js';
import { computeTeacherTargets } from './distill.js';
import type { EncodeContext } from './encode-context.js';
import {
  type ChatEncoder,
  DEFAULT_RECIPE,
  distills,
  formatRecipe,
  type Recipe,
  type RecipeRecord,
  recipeExamples,
  resolveRecipe,
} from './recipe.js';
import { type TrainMode, type TrainResult, trainAdapter, trainedAdapter } from './trainer.js';
import { storedWarmup, WARMUP_ADAPTER_ID, WarmupMismatchError } from './warmup.js';

/**
 * Store id of the one continual-pretraining adapter (DAPT: trained on every record of a corpus), kept in the
 * same scope as the documents' adapters. The store's key has no other field to tell it apart, so a document
 * with this id is refused by encodeDocuments rather than silently overwriting (or being read as) the DAPT adapter.
 */
export const DAPT_ADAPTER_ID = '_dapt';

export interface EncodeOptions {
  mode: TrainMode;
  lr: number;
  epochs: number;
  batchSize: number;
  gradAccumulation?: number;
  seed?: number;
  /** Examples longer than this many tokens are left out. */
  maxTokens?: number;
  /** Example layout and loss (default DEFAULT_RECIPE); recorded as `recipe` in every adapter's trainingConfig. */
  recipe?: Partial<Recipe>;
}

export type { EncodeContext } from './encode-context.js';

/** The records one adapter is trained on: one document, a cluster's representatives, or a whole corpus (DAPT). */
export interface TrainingGroup {
  adapterId: string;
  records: readonly RecipeRecord[];
  /** Extra fields saved in the adapter's trainingConfig (e.g. the cluster number). */
  metadata?: Record<string, unknown>;
}

export type GroupOutcome =
  | { id: string; status: 'trained'; documents: number; examples: number; tokens: number; finalLoss: number; ms: number }
  | { id: string; status: 'skipped'; reason: string }
  | { id: string; status: 'failed'; error: string };

export interface GroupHooks {
  /** A group's training begins: its examples, the micro-batches it runs (every epoch), those a checkpoint already did. */
  onGroupStart?: (group: TrainingGroup, info: { examples: number; batches: number; resumedBatches: number }) => void;
  /** Awaited before every micro-batch of the group being trained (TrainOptions.beforeBatch: a yield point). */
  beforeBatch?: () => Promise<void> | void;
  /** After every micro-batch of the group being trained. */
  onBatch?: (info: { loss: number; tokens: number }) => void;
  /** A group is done (trained, skipped or failed). */
  onGroup?: (outcome: GroupOutcome) => void;
}

/**
 * One adapter per group, trained with the recipe on the examples of all the group's records together (shuffled
 * across records each epoch) and saved under scope + group.adapterId, with the documents it was trained on in its
 * trainingConfig. Resumable: a group whose adapter is stored, verifies, and was trained on the same documents is
 * skipped; one trained on other documents (a representative changed, a document was deleted and its knowledge must
 * leave the adapter) is trained again. A group that fails is reported with its id and the run goes on.
 */
/**
 * Checkpoints for long groups: the run's state is saved in `dir` after an optimizer step at most every
 * `everySeconds` (default 60), an interrupted group goes on from there, and the file is removed once it is stored.
 */
export interface CheckpointOptions {
  dir: string;
  everySeconds?: number;
}

export async function encodeGroups(
  groups: Iterable<TrainingGroup>,
  ctx: EncodeContext,
  options: EncodeOptions,
  hooks: GroupHooks = {},
  checkpoints?: CheckpointOptions,
): Promise<GroupOutcome[]> {
  const list = [...groups];
  checkStoredRecipes(
    list.map((g) => g.adapterId),
    ctx,
    options,
  );
  return trainGroups(list, ctx, options, hooks, checkpoints);
}

/** encodeGroups without the recipe check, which its callers have made for the whole run. */
async function trainGroups(
  groups: readonly TrainingGroup[],
  ctx: EncodeContext,
  options: EncodeOptions,
  hooks: GroupHooks,
  checkpoints?: CheckpointOptions,
): Promise<GroupOutcome[]> {
  const outcomes: GroupOutcome[] = [];
  const recipe = resolveRecipe(options.recipe);
  const scale = ctx.base.config.alpha / ctx.base.config.rank;
  for (const group of groups) {
    const id = group.adapterId;
    const key: DocAdapterKey = { ...ctx.scope, id };
    const documents = group.records.map((r) => r.passageId);
    let outcome: GroupOutcome;
    try {
      if (storedForDocuments(ctx, key, documents)) {
        outcome = { id, status: 'skipped', reason: 'already stored' };
      } else {
        const t0 = performance.now();
        const { examples, dropped } = groupExamples(group, ctx, options, recipe);
        if (distills(recipe.objective)) await computeTeacherTargets(examples, ctx.teacher, recipe.topK as number);
        const epochs = options.mode === 'gradient' ? 1 : options.epochs;
        const perEpoch = Math.ceil(examples.length / options.batchSize);
        const file =
          checkpoints && options.mode === 'lora'
            ? new CheckpointFile(
                checkpoints.dir,
                CheckpointFile.fingerprintOf({ key, documents, options, model: ctx.modelFingerprint, examples: examples.length }),
              )
            : undefined;
        const resume = file?.load();
        hooks.onGroupStart?.(group, {
          examples: examples.length,
          batches: epochs * perEpoch,
          resumedBatches: resume ? resume.epoch * perEpoch + resume.batch : 0,
        });
        let savedAt = performance.now();
        const everyMs = (checkpoints?.everySeconds ?? 60) * 1000;
        const result = await trainAdapter(ctx.session, ctx.base.modules, examples, {
          ...options,
          distillWeight: recipe.distillWeight,
          scale,
          resume,
          beforeBatch: hooks.beforeBatch,
          onBatch: hooks.onBatch && ((b) => hooks.onBatch?.({ loss: b.loss, tokens: b.tokens })),
          onCheckpoint:
            file &&
            ((c) => {
              if (performance.now() - savedAt < everyMs) return;
              file.save(c);
              savedAt = performance.now();
            }),
        });
        outcome = storeTrained(ctx, group, options, { result, examples: examples.length, dropped, ms: performance.now() - t0 });
        file?.remove();
      }
    } catch (e) {
      outcome = { id, status: 'failed', error: (e as Error).message };
    }
    outcomes.push(outcome);
    hooks.onGroup?.(outcome);
  }
  return outcomes;
}

/** The group's adapter is stored, verifies, and was trained on these documents: a resumed run skips it. */
export function storedForDocuments(ctx: EncodeContext, key: DocAdapterKey, documents: string[]): boolean {
  const stored = ctx.store.get(key);
  return (
    !!stored &&
    sameDocuments(storedDocuments(stored.trainingConfig, key.id), documents) &&
    ctx.store.verify(key, { modelFingerprint: ctx.modelFingerprint }).ok
  );
}

/** The recipe's examples of every record of the group; none at all is an error saying why. */
export function groupExamples(
  group: TrainingGroup,
  ctx: EncodeContext,
  options: EncodeOptions,
  recipe: Recipe,
): { examples: TrainingExample[]; dropped: number } {
  return recordsExamples(group.records, ctx.encoder, { seed: options.seed, maxTokens: options.maxTokens }, recipe);
}

/**
 * The recipe's examples of these records (one adapter's: a document's, or a cluster's representatives'), and how many
 * were over the token limit; none at all is an error saying why. Whoever trains an adapter the way rg encode does
 * (the encode queue's workers too) builds its examples here, so that the same records give the same examples.
 */
export function recordsExamples(
  records: readonly RecipeRecord[],
  encoder: ChatEncoder,
  options: { seed?: number; maxTokens?: number },
  recipe: Recipe,
): { examples: TrainingExample[]; dropped: number } {
  let dropped = 0;
  let pairs = 0;
  const examples = records.flatMap((record) => {
    const r = recipeExamples(record, encoder, { seed: options.seed, maxTokens: options.maxTokens, recipe });
    dropped += r.dropped;
    pairs += record.qa.length;
    return r.examples;
  });
  if (examples.length === 0) {
    throw new Error(
      `no training examples (${records.length} augmented records, ${pairs} QA pairs, ${dropped} examples over the token limit)`,
    );
  }
  return { examples, dropped };
}

/**
 * Saves a group's trained adapter under scope + group.adapterId, with the options, recipe, documents and training
 * figures in its trainingConfig. `ms` is the group's training time (what the benchmarks report as encode cost).
 */
export function storeTrained(
  ctx: EncodeContext,
  group: TrainingGroup,
  options: EncodeOptions,
  trained: { result: TrainResult; examples: number; dropped: number; ms: number },
): GroupOutcome {
  const t0 = performance.now();
  const { result } = trained;
  const documents = group.records.map((r) => r.passageId);
  ctx.store.put({ ...ctx.scope, id: group.adapterId }, trainedAdapter(ctx.base, result), {
    modelFingerprint: ctx.modelFingerprint,
    mode: options.mode === 'lora' ? 'trained' : 'gradient',
    trainingConfig: {
      ...options,
      ...group.metadata,
      ...(ctx.warmup ? { warmup: ctx.warmup } : {}),
      recipe: resolveRecipe(options.recipe),
      documents,
      // What the benchmarks report as encode cost, kept with the adapter so a resumed run still has it.
      trainSeconds: Math.round(trained.ms) / 1000,
      examples: trained.examples,
      droppedExamples: trained.dropped,
      losses: result.losses,
    },
  });
  return {
    id: group.adapterId,
    status: 'trained',
    documents: documents.length,
    examples: trained.examples,
    tokens: result.tokens,
    finalLoss: result.losses[result.losses.length - 1],
    ms: trained.ms + performance.now() - t0,
  };
}

/**
 * Ids of the adapters that are not a document's, which no document may take (its adapter would overwrite, or be
 * read as, one of them): DAPT_ADAPTER_ID and the cluster adapters' ids (`cluster-k{k}-{n}`, @rg/clustering's
 * clusterAdapterId). Returns what the id is reserved for, or null.
 */
export function reservedAdapterId(id: string): string | null {
  if (id === DAPT_ADAPTER_ID) return 'the DAPT adapter (rg encode --dapt)';
  if (id === WARMUP_ADAPTER_ID) return 'the warm-up adapter (rg adapter warmup)';
  if (/^cluster-k\d+-\d+$/.test(id)) return 'a cluster adapter (rg cluster train)';
  return null;
}

/** The failed outcome of a document whose id is reserved (reservedAdapterId), or null. */
export function refusedDocumentId(id: string): GroupOutcome | null {
  const reserved = reservedAdapterId(id);
  if (!reserved) return null;
  return { id, status: 'failed', error: `document id "${id}" is reserved for ${reserved} in the same store scope: rename the document` };
}

/**
 * One adapter per document, saved under scope + passage id (a group of one record each). A document whose id is
 * reserved (reservedAdapterId) fails with a message saying so.
 */
export async function encodeDocuments(
  records: Iterable<RecipeRecord>,
  ctx: EncodeContext,
  options: EncodeOptions,
  hooks: GroupHooks = {},
): Promise<GroupOutcome[]> {
  const list = [...records];
  checkStoredRecipes(
    list.filter((r) => !reservedAdapterId(r.passageId)).map((r) => r.passageId),
    ctx,
    options,
  );
  const outcomes: GroupOutcome[] = [];
  for (const record of list) {
    const refused = refusedDocumentId(record.passageId);
    if (refused) {
      outcomes.push(refused);
      hooks.onGroup?.(refused);
      continue;
    }
    outcomes.push(...(await trainGroups([{ adapterId: record.passageId, records: [record] }], ctx, options, hooks)));
  }
  return outcomes;
}

/**
 * The continual-pretraining baseline (DAPT): one adapter trained on the recipe examples of every record together,
 * shuffled with the seed each epoch, saved under scope + DAPT_ADAPTER_ID with `kind: 'dapt'` in its trainingConfig.
 * Resumable as encodeGroups: skipped when stored for the same documents; with `checkpoints`, an interrupted run goes
 * on from its last checkpoint.
 */
export async function encodeDapt(
  records: Iterable<RecipeRecord>,
  ctx: EncodeContext,
  options: EncodeOptions,
  hooks: GroupHooks = {},
  checkpoints?: CheckpointOptions,
): Promise<GroupOutcome> {
  const group: TrainingGroup = { adapterId: DAPT_ADAPTER_ID, records: [...records], metadata: { kind: 'dapt' } };
  const [outcome] = await encodeGroups([group], ctx, options, hooks, checkpoints);
  return outcome;
}

/** The documents a stored adapter was trained on; one stored before the list was recorded was named after its document. */
function storedDocuments(trainingConfig: Record<string, unknown>, adapterId: string): unknown {
  return trainingConfig.documents ?? [adapterId];
}

function sameDocuments(stored: unknown, now: string[]): boolean {
  return Array.isArray(stored) && stored.length === now.length && [...stored].sort().join('\u0000') === [...now].sort().join('\u0000');
}

/** A run would skip or overwrite stored adapters trained with another recipe (see checkStoredRecipes). */
export class RecipeMismatchError extends Error {
  override name = 'RecipeMismatchError';
}

/**
 * The recipe a stored adapter was trained with (its trainingConfig's `recipe`); one stored before rg recorded it
 * was trained with the only recipe there was, DEFAULT_RECIPE.
 */
export function storedRecipe(trainingConfig: Record<string, unknown>): Recipe {
  const r = (trainingConfig.recipe ?? DEFAULT_RECIPE) as Recipe;
  if (!r.objective || r.objective === 'lm') return { examples: r.examples, loss: r.loss };
  return { examples: r.examples, loss: r.loss, objective: r.objective, topK: r.topK, distillWeight: r.distillWeight };
}

/**
 * The store key has no recipe field, so an adapter trained with another recipe would be skipped as "already
 * stored" (or one of them overwritten while the rest stay): a run whose adapters are stored with another recipe is
 * refused as a whole, before anything is trained, naming the first such adapter and both recipes.
 */
export function checkStoredRecipes(ids: readonly string[], ctx: EncodeContext, options: EncodeOptions): void {
  const recipe = resolveRecipe(options.recipe);
  const clashes: Array<{ key: DocAdapterKey; was: Recipe }> = [];
  for (const id of ids) {
    const key: DocAdapterKey = { ...ctx.scope, id };
    const entry = ctx.store.get(key);
    if (!entry) continue;
    const was = storedRecipe(entry.trainingConfig);
    if (formatRecipe(was) !== formatRecipe(recipe)) clashes.push({ key, was });
    // Same reason as the recipe: an adapter on top of another warm-up (or none) would be skipped as "already stored".
    const warmup = storedWarmup(entry.trainingConfig)?.sha256 ?? null;
    if (warmup !== (ctx.warmup?.sha256 ?? null))
      throw new WarmupMismatchError(
        `adapter ${describeKey(key)} in ${ctx.store.root} was trained ${warmup ? `on top of the warm-up with sha256 ${warmup}` : 'without a warm-up'}, this run ${ctx.warmup ? `stacks ${describeKey(ctx.warmup.key)} (sha256 ${ctx.warmup.sha256})` : 'has none'}: train into another adapter store or dataset to keep both, or delete the stored adapters`,
      );
  }
  if (clashes.length === 0) return;
  const [first] = clashes;
  const more = clashes.length > 1 ? ` (and ${clashes.length - 1} more adapters of this run)` : '';
  throw new RecipeMismatchError(
    `adapter ${describeKey(first.key)} in ${ctx.store.root} was trained with ${formatRecipe(first.was)}, this run asks for ${formatRecipe(recipe)}${more}: train into another adapter store or dataset to keep both, or delete the stored adapters`,
  );
}
