import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { AdapterStore, type DocAdapterKey } from '@rg/adapter-store';
import { type AugmentedRecord, readAugmented } from '@rg/augment';
import { type LoraTarget, loadModel, modelFingerprint, modelKeyName } from '@rg/engine';
import {
  DEFAULT_RECIPE,
  DEFAULT_TARGETS,
  distills,
  type EncodeContext,
  type EncodeOptions,
  type ExampleLayout,
  encodeDocuments,
  encodeDocumentsMany,
  findWarmup,
  type GroupOutcome,
  loadWarmup,
  openTrainingRun,
  type Recipe,
  resolveRecipe,
} from '@rg/lora-trainer';
import { type TrainerSettings, trainerOptions } from './training-settings.js';

export interface EncodeFileOptions {
  /** Model name (pulled into `home` on first use) or path, RG_HOME, and the training session's threads. */
  model: string;
  home: string;
  threads: number;
  /** Augmented records (augment's JSON Lines output). */
  input: string;
  /** Adapter store folder (created if missing). */
  store: string;
  /** Dataset segment of the adapters' store key (default: the input file's name without its extension). */
  dataset?: string;
  rank: number;
  alpha: number;
  /** Target modules (default DEFAULT_TARGETS; must match the store's base_weight). */
  targets?: readonly LoraTarget[];
  /** lr and epochs are also part of the store key; `seed` (default 0) also seeds a base_weight initialised now. */
  training: EncodeOptions;
  /** Only the first n trainable records. */
  sample?: number;
  /** Above 1: that many documents' adapters trained together per pass (encodeDocumentsMany). */
  docsPerPass?: number;
  /** Train on top of the store's warm-up adapter of the model and dataset (WarmupNotFoundError when there is none). */
  warmup?: boolean;
  /** Gradient checkpointing (TrainingRunOptions.gradientCheckpointing). */
  gradientCheckpointing?: boolean;
}

/** What a person sets for an encode run (rg encode's and rg cluster train's flags): trainer settings and adapter shape. */
export interface EncodeFileSettings extends TrainerSettings {
  dataset?: string;
  rank: number;
  alpha: number;
  targets?: readonly LoraTarget[];
  sample?: number;
  docsPerPass?: number;
  warmup?: boolean;
  gradientCheckpointing?: boolean;
}

/** An encoder's options (encodeAugmentedFile, encodeDaptFile, encodeClusterFile) from where it runs and the settings. */
export function encodeFileOptions(
  where: Pick<EncodeFileOptions, 'model' | 'home' | 'threads' | 'input' | 'store'>,
  s: EncodeFileSettings,
): EncodeFileOptions {
  const { dataset, rank, alpha, targets, sample, docsPerPass, warmup, gradientCheckpointing } = s;
  return { ...where, dataset, rank, alpha, targets, training: trainerOptions(s), sample, docsPerPass, warmup, gradientCheckpointing };
}

export interface EncodeProgress {
  done: number;
  total: number;
  /** Over the documents trained so far (skipped ones cost nothing). */
  docsPerSecond: number;
  tokensPerSecond: number;
  /** Of the documents still to do, at docsPerSecond. */
  etaSeconds: number;
}

export interface EncodeFileHooks {
  /** A line for the user: a record trained partially or skipped, a base_weight initialised, the warm-up used. */
  onNote?: (text: string) => void;
  /** Before the first document: how many will be trained or skipped. */
  onStart?: (total: number) => void;
  /** After each document (trained, skipped or failed). */
  onDocument?: (outcome: GroupOutcome, progress: EncodeProgress) => void;
}

export interface EncodeFileSummary {
  store: string;
  scope: Omit<DocAdapterKey, 'id'>;
  /** As recorded with every adapter. */
  recipe: Recipe;
  passages: number;
  trained: number;
  skipped: number;
  failed: number;
  failedIds: string[];
  seconds: number;
  docsPerSecond: number;
  tokensPerSecond: number;
  outcomes: GroupOutcome[];
}

/**
 * One adapter per record of an augmented file, into an adapter store: the model loaded, the training run opened
 * (the store's base_weight, initialised when missing), every trainable record encoded. Resumable through
 * lora-trainer: a document whose adapter is stored is skipped, so running it again trains only what is missing.
 * Errors of the trainer pass through (RecipeMismatchError, BaseWeightMismatchError, NoChatTemplateError,
 * WarmupNotFoundError, WarmupMismatchError, AugmentDataError); a failed document is in the summary, not thrown.
 */
export async function encodeAugmentedFile(options: EncodeFileOptions, hooks: EncodeFileHooks = {}): Promise<EncodeFileSummary> {
  const docsPerPass = options.docsPerPass ?? 1;
  return withFileRun(options, hooks.onNote, { batchedAdapters: docsPerPass > 1 }, (todo, context, recipe) =>
    encodeRecords(todo, context, options, docsPerPass, recipe, hooks),
  );
}

/**
 * What every encoder of an augmented file does before training (encodeAugmentedFile, encodeDaptFile,
 * encodeClusterFile): the trainable records read, then the training run opened (withTrainingRun). `body` trains.
 */
export async function withFileRun<T>(
  options: EncodeFileOptions,
  onNote: ((text: string) => void) | undefined,
  session: { batchedAdapters: boolean },
  body: (todo: AugmentedRecord[], context: EncodeContext, recipe: Recipe) => Promise<T>,
): Promise<T> {
  const note = onNote ?? (() => {});
  if (!existsSync(options.input)) throw new Error(`${options.input}: no such file (augmented records expected)`);
  const usable = trainableRecords(await readAugmented(options.input), note, options.training.recipe?.examples);
  const todo = options.sample !== undefined ? usable.slice(0, options.sample) : usable;
  const recipe = resolveRecipe(options.training.recipe ?? {});
  const dataset = options.dataset ?? basename(options.input).replace(/\.[^.]*$/, '');
  const distill = distills(recipe.objective);
  return withTrainingRun({ ...options, dataset }, note, { ...session, distill }, (context) => body(todo, context, recipe));
}

/** Where and how a training run trains: the model, the adapter store and the key's shape of its adapters. */
export interface TrainingRunOptions {
  model: string;
  home: string;
  threads: number;
  /** Adapter store folder (created if missing). */
  store: string;
  /** Dataset segment of the adapters' store key. */
  dataset: string;
  rank: number;
  alpha: number;
  /** Target modules (default DEFAULT_TARGETS; must match the store's base_weight). */
  targets?: readonly LoraTarget[];
  /** lr and epochs are part of the store key; `seed` (default 0) seeds a base_weight initialised now. */
  training: Pick<EncodeOptions, 'lr' | 'epochs' | 'seed'>;
  /** Train on top of the store's warm-up adapter of the model and dataset (WarmupNotFoundError when there is none). */
  warmup?: boolean;
  /**
   * Gradient checkpointing (openTrainingRun's `checkpoint`): layers recomputed in the backward pass, so a long
   * example's step needs about a third of the memory (a 1,024-token step of SmolLM2-135M: see docs/BENCHMARKS.md).
   */
  gradientCheckpointing?: boolean;
}

/**
 * The model loaded, the store and its warm-up (when asked) opened, the training run opened (the store's
 * base_weight, initialised when missing); `body` trains, and the run and the store are closed after it, failed or
 * not. `session`: several adapters per pass, the teacher's soft targets.
 */
export async function withTrainingRun<T>(
  options: TrainingRunOptions,
  note: (text: string) => void,
  session: { batchedAdapters: boolean; distill: boolean },
  body: (context: EncodeContext) => Promise<T>,
): Promise<T> {
  const seed = options.training.seed ?? 0;
  const model = await loadModel(options.model, { home: options.home, pull: true });
  const store = AdapterStore.open(options.store);
  try {
    const dataset = options.dataset;
    const warmup = options.warmup
      ? loadWarmup(store, findWarmup(store, { model: modelKeyName(model.source), dataset }, options), {
          modelFingerprint: modelFingerprint(model.config, model.source),
          model: model.config,
        })
      : undefined;
    if (warmup) note(`training on top of the warm-up adapter ${warmup.identity.key.id} (sha256 ${warmup.identity.sha256.slice(0, 12)})`);
    const run = await openTrainingRun(model, store, {
      rank: options.rank,
      alpha: options.alpha,
      targets: options.targets ?? [...DEFAULT_TARGETS],
      seed,
      dataset,
      lr: options.training.lr,
      epochs: options.training.epochs,
      threads: options.threads,
      batchedAdapters: session.batchedAdapters,
      distill: session.distill,
      checkpoint: options.gradientCheckpointing,
      warmup,
      onInitBaseWeight: (key) =>
        note(`no base_weight for ${key.model} rank=${key.rank} alpha=${key.alpha}: initialised one (seed ${seed})`),
    });
    try {
      return await body(run.context);
    } finally {
      await run.close();
    }
  } finally {
    store.close();
  }
}

async function encodeRecords(
  todo: AugmentedRecord[],
  encode: EncodeContext,
  options: EncodeFileOptions,
  docsPerPass: number,
  recipe: Recipe,
  hooks: EncodeFileHooks,
): Promise<EncodeFileSummary> {
  const t0 = performance.now();
  let done = 0;
  let trainedDocs = 0;
  let tokens = 0;
  let trainMs = 0;
  hooks.onStart?.(todo.length);
  const onGroup = (o: GroupOutcome) => {
    done++;
    if (o.status === 'trained') {
      trainedDocs++;
      tokens += o.tokens;
      trainMs += o.ms;
    }
    const docsPerSecond = trainMs > 0 ? trainedDocs / (trainMs / 1000) : 0;
    const tokensPerSecond = trainMs > 0 ? tokens / (trainMs / 1000) : 0;
    const etaSeconds = docsPerSecond > 0 ? (todo.length - done) / docsPerSecond : 0;
    hooks.onDocument?.(o, { done, total: todo.length, docsPerSecond, tokensPerSecond, etaSeconds });
  };
  const outcomes = await (docsPerPass > 1
    ? encodeDocumentsMany(todo, encode, { ...options.training, docsPerPass }, { onGroup })
    : encodeDocuments(todo, encode, options.training, { onGroup }));
  const count = (s: GroupOutcome['status']) => outcomes.filter((o) => o.status === s).length;
  return {
    store: encode.store.root,
    scope: encode.scope,
    recipe,
    passages: todo.length,
    trained: count('trained'),
    skipped: count('skipped'),
    failed: count('failed'),
    failedIds: outcomes.filter((o) => o.status === 'failed').map((o) => o.id),
    seconds: Math.round(((performance.now() - t0) / 1000) * 10) / 10,
    docsPerSecond: trainMs > 0 ? trainedDocs / (trainMs / 1000) : 0,
    tokensPerSecond: trainMs > 0 ? tokens / (trainMs / 1000) : 0,
    outcomes,
  };
}

/**
 * The records training can use: every one with at least one QA pair, or with the `passage` layout (which trains on
 * the text alone) every one. A "failed" record keeps the pairs that passed augment's checks (what failed is mostly
 * the rewrite): the recipe trains on them without the rewrite, so the document still gets its adapter. Each partial
 * or skipped record gets a line through `note`.
 */
export function trainableRecords(
  records: AugmentedRecord[],
  note: (text: string) => void,
  examples: ExampleLayout = DEFAULT_RECIPE.examples,
): AugmentedRecord[] {
  return records.filter((r) => {
    const reason = r.failureReason ?? 'no reason given';
    const usable = examples === 'passage' || r.qa.length > 0;
    if (!usable) note(`skip ${r.passageId}: no question/answer pair to train on (augmentation: ${reason})`);
    else if (r.status !== 'ok')
      note(
        examples === 'passage'
          ? `partial ${r.passageId}: augmentation failed (${reason}); training on its passage${r.rewrite ? ' and rewrite' : ''}`
          : `partial ${r.passageId}: augmentation failed (${reason}); training on its ${r.qa.length} QA pair(s)${r.rewrite ? '' : ' without a rewrite'}`,
      );
    return usable;
  });
}
