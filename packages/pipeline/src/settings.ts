import { existsSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { COMPOSE_MODES, type ComposeMode, writeFileAtomic } from '@rg/inference';
import { EXAMPLE_LAYOUTS, LOSS_SPANS } from '@rg/lora-trainer';
import { BACKENDS, type BackendName } from '@rg/retriever';
import { z } from 'zod';
import type { CollectionSettings, OpenCollectionOptions } from './types.js';

export const SETTINGS_FILE = 'collection.json';

/** The methods a collection answers with: those that need nothing but its corpus, index and adapters. */
export const COLLECTION_METHODS = ['wo_param', 'icl', 'cat_all_one', 'combine'] as const;

/** `bm25` is the collection's name for the retriever's embedded BM25 backend (`sqlite`). */
const BACKEND_NAMES = ['bm25', ...BACKENDS] as const;

const positiveInt = z.number().int().positive();

const RecipeSchema = z
  .strictObject({
    rank: positiveInt,
    alpha: z.number().positive(),
    lr: z.number().positive(),
    epochs: positiveInt,
    examples: z.enum(EXAMPLE_LAYOUTS),
    loss: z.enum(LOSS_SPANS),
    qa: z.number().int().nonnegative(),
    maxTokens: positiveInt,
    seed: z.number().int().nonnegative(),
  })
  // lora-trainer would train "passage" on every token whatever was asked: say so rather than record a loss never used.
  .refine((r) => r.examples !== 'passage' || r.loss === 'all', {
    path: ['loss'],
    message: 'the passage layout trains on every token: expected "all"',
  });

export const SettingsSchema = z.strictObject({
  name: z.string().min(1),
  backend: z.enum(BACKEND_NAMES),
  corpusDir: z.string().min(1),
  adapterDir: z.string().min(1),
  adapterDataset: z.string().min(1),
  recipe: RecipeSchema,
  answer: z.strictObject({
    method: z.enum(COLLECTION_METHODS),
    k: positiveInt,
    compose: z.enum(COMPOSE_MODES),
    maxNewTokens: positiveInt,
  }),
});

/**
 * Backends whose retrieval scores are always positive (BM25: FTS5 and Elasticsearch; RRF), which `score` composition
 * needs; the embedding backends' cosine can be 0 or below.
 */
const POSITIVE_SCORE_BACKENDS: ReadonlySet<string> = new Set(['bm25', 'sqlite', 'elasticsearch', 'hybrid']);

/**
 * How a collection composes its k adapters unless told: weighted by retrieval score where the backend's scores are
 * positive (on PopQA test, 300 questions: RG 0.387 vs 0.257 with the mean, RG+RAG 0.490 vs 0.407; chosen on dev),
 * else by their mean.
 */
export function defaultCompose(backend: string): ComposeMode {
  return POSITIVE_SCORE_BACKENDS.has(backend) ? 'score' : 'mean';
}

/**
 * The recipe the knowledge work found best on real data (docs: PopQA and ChemProt dev, SmolLM2): continued
 * pretraining on the passage and its rewrite, loss on every token, lr 1e-3 for 5 epochs at rank 2 / alpha 32
 * (`rg demo`'s shape), answers composing the k adapters by retrieval score (defaultCompose). maxTokens and seed are
 * `rg encode`'s defaults.
 */
export function defaultSettings(name: string): CollectionSettings {
  return {
    name,
    backend: 'bm25',
    corpusDir: 'corpus',
    adapterDir: 'adapters',
    adapterDataset: name,
    recipe: { rank: 2, alpha: 32, lr: 1e-3, epochs: 5, examples: 'passage', loss: 'all', qa: 3, maxTokens: 1024, seed: 0 },
    answer: { method: 'combine', k: 3, compose: defaultCompose('bm25'), maxNewTokens: 64 },
  };
}

/** collection.json is missing or does not hold valid settings; the message names the file and the field. */
export class CollectionSettingsError extends Error {
  override name = 'CollectionSettingsError';
}

/** Checks settings, naming `where` (the file, or "create settings") and the first wrong field with what was expected. */
export function parseSettings(value: unknown, where: string): CollectionSettings {
  const result = SettingsSchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  const unknown = issue.code === 'unrecognized_keys' ? `: unknown field(s) ${issue.keys.join(', ')}` : '';
  throw new CollectionSettingsError(`${where}: ${field}: ${issue.message}${unknown}`);
}

export function readSettings(dir: string): CollectionSettings | undefined {
  const file = join(dir, SETTINGS_FILE);
  if (!existsSync(file)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CollectionSettingsError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseSettings(value, file);
}

/** Written last when a collection is created, atomically: a folder with collection.json is a whole collection. */
export function writeSettings(dir: string, settings: CollectionSettings): void {
  writeFileAtomic(join(dir, SETTINGS_FILE), `${JSON.stringify(settings, null, 2)}\n`);
}

/** The defaults with what `create` gives; fields given explicitly are listed so that adoption never overrides them. */
export function createSettings(dir: string, create: NonNullable<OpenCollectionOptions['create']>): CollectionSettings {
  const name = create.name ?? basename(resolve(dir));
  const base = defaultSettings(name);
  const merged = {
    ...base,
    ...create,
    adapterDataset: create.adapterDataset ?? name,
    recipe: { ...base.recipe, ...create.recipe },
    // The composition follows the backend unless given: a dense backend's scores cannot weight adapters.
    answer: { ...base.answer, compose: defaultCompose(create.backend ?? base.backend), ...create.answer },
  };
  // An explicit non-passage layout brings its own default loss (lora-trainer's: the answer only).
  if (create.recipe?.examples && create.recipe.examples !== 'passage' && !create.recipe.loss) merged.recipe.loss = 'answer';
  return parseSettings(merged, `${join(dir, SETTINGS_FILE)} (create settings)`);
}

/** A settings folder path: relative to the collection's folder unless absolute. */
export function collectionPath(dir: string, path: string): string {
  return isAbsolute(path) ? path : join(dir, path);
}

export function retrieverBackend(backend: CollectionSettings['backend']): BackendName {
  return backend === 'bm25' ? 'sqlite' : (backend as BackendName);
}
