import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdapterStore, type DocAdapterKey } from '@rg/adapter-store';
import { type LoadedModel, loadModel, modelFingerprint, modelKeyName } from '@rg/engine';
import { writeTinyModel } from '@rg/engine/testing';
import { ADAPTER_MODEL_FILE } from '@rg/lora';
import {
  DEFAULT_TARGETS,
  type EncodeOptions,
  encodeDocuments,
  loadOrInitBaseWeight,
  openTrainingRun,
  type RecipeRecord,
} from '@rg/lora-trainer';

export const RANK = 2;
export const ALPHA = 32;
export const SEED = 0;
export const OPTIONS: EncodeOptions = {
  mode: 'lora',
  lr: 1e-3,
  epochs: 2,
  batchSize: 1,
  seed: SEED,
  maxTokens: 1024,
  recipe: { examples: 'qa', loss: 'answer' },
};

/** Small documents with two QA pairs each; ids with characters a Redis key or a path must not take raw. */
export function records(n: number): RecipeRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    passageId: i === 1 ? 'doc/1:weird id*' : `doc-${i}`,
    passage: `Town ${i} lies by the river ${String.fromCharCode(65 + i)}. It was founded in ${1700 + i * 13} by a miller.`,
    rewrite: i % 2 === 0 ? `By the river ${String.fromCharCode(65 + i)} lies town ${i}, founded by a miller in ${1700 + i * 13}.` : null,
    qa: [
      { question: `When was town ${i} founded?`, answer: `In ${1700 + i * 13}.` },
      { question: `Which river is town ${i} by?`, answer: `The river ${String.fromCharCode(65 + i)}.` },
    ],
  }));
}

export async function tinyModel(dir: string, name = 'tiny-llama'): Promise<LoadedModel> {
  return loadModel(writeTinyModel(join(dir, name)));
}

export function scopeOf(model: LoadedModel): Omit<DocAdapterKey, 'id'> {
  return { model: modelKeyName(model.source), rank: RANK, alpha: ALPHA, dataset: 'test', lr: OPTIONS.lr, epochs: OPTIONS.epochs };
}

/** A store with the base_weight the single-process run starts from (same seed, so the same bytes). */
export function storeWithBase(dir: string, model: LoadedModel): AdapterStore {
  const store = AdapterStore.open(dir);
  loadOrInitBaseWeight(store, model.config, {
    modelName: modelKeyName(model.source),
    fingerprint: modelFingerprint(model.config, model.source),
    rank: RANK,
    alpha: ALPHA,
    targets: DEFAULT_TARGETS,
    seed: SEED,
  });
  return store;
}

/** `rg encode` in one process (encodeDocuments): the sha256 of each document's stored adapter_model.safetensors. */
export async function singleProcessShas(dir: string, model: LoadedModel, docs: RecipeRecord[], threads = 1): Promise<Map<string, string>> {
  const store = AdapterStore.open(dir);
  const run = await openTrainingRun(model, store, {
    rank: RANK,
    alpha: ALPHA,
    targets: DEFAULT_TARGETS,
    seed: SEED,
    dataset: 'test',
    lr: OPTIONS.lr,
    epochs: OPTIONS.epochs,
    threads,
  });
  try {
    const outcomes = await encodeDocuments(docs, run.context, OPTIONS);
    if (outcomes.some((o) => o.status !== 'trained')) throw new Error(`reference encode: ${JSON.stringify(outcomes)}`);
    return storedShas(store, scopeOf(model), docs);
  } finally {
    await run.close();
    store.close();
  }
}

export function storedShas(store: AdapterStore, scope: Omit<DocAdapterKey, 'id'>, docs: RecipeRecord[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of docs) {
    const entry = store.get({ ...scope, id: d.passageId });
    if (entry) out.set(d.passageId, entry.files[ADAPTER_MODEL_FILE].sha256);
  }
  return out;
}

const PKG = fileURLToPath(new URL('../..', import.meta.url));
export const BUILD = join(PKG, 'node_modules', '.cache', 'rg-encode-queue-test');

/** Compiles the package for child processes (plain node cannot load .ts); its dependencies run from their dist. */
export function buildForChildren(): string {
  execFileSync(
    process.execPath,
    [
      join(PKG, '../../node_modules/typescript/bin/tsc'),
      '-p',
      'tsconfig.build.json',
      '--outDir',
      BUILD,
      '--declaration',
      'false',
      '--sourceMap',
      'false',
    ],
    { cwd: PKG },
  );
  return BUILD;
}
