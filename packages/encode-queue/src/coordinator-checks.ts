import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AdapterStore, type DocAdapterKey, describeKey } from '@rg/adapter-store';
import { ADAPTER_CONFIG_FILE, ADAPTER_MODEL_FILE, decodePeftAdapter, type LoraAdapter } from '@rg/lora';
import { formatRecipe, RecipeMismatchError, type resolveRecipe, storedRecipe, type TrainingGroup } from '@rg/lora-trainer';
import type { Redis } from 'ioredis';
import type { QueueTarget } from './connection.js';
import { type BaseWeightRef, baseWeightKey, sha256 } from './job.js';

// What the coordinator checks: the run before anything is enqueued (recipe, stored adapters), the base_weight it
// hands the workers, and every result before it is stored.

/** The base_weight's stored files, checked against the manifest, put in Redis under their sha256 for the workers. */
export async function publishBaseWeight(
  store: AdapterStore,
  scope: Omit<DocAdapterKey, 'id'>,
  redis: Redis,
  target: QueueTarget,
): Promise<{ ref: BaseWeightRef; adapter: LoraAdapter; configText: string }> {
  const baseKey = { model: scope.model, rank: scope.rank, alpha: scope.alpha };
  const entry = store.get(baseKey);
  if (!entry)
    throw new Error(`${describeKey(baseKey)}: no base_weight in ${store.root} (rg adapter init, or rg encode once without --queue)`);
  const read = (file: string): Buffer => {
    const bytes = readFileSync(join(entry.path, file));
    const want = entry.files[file]?.sha256;
    if (sha256(bytes) !== want)
      throw new Error(`${join(entry.path, file)}: sha256 ${sha256(bytes)}, the manifest recorded ${want} (rg adapter verify)`);
    return bytes;
  };
  const config = read(ADAPTER_CONFIG_FILE);
  const model = read(ADAPTER_MODEL_FILE);
  const configText = config.toString('utf8');
  const adapter = decodePeftAdapter(configText, model, entry.path);
  const ref: BaseWeightRef = {
    sha256: sha256(model),
    configSha256: sha256(config),
    rank: adapter.config.rank,
    alpha: adapter.config.alpha,
    targets: [...adapter.config.targetModules],
  };
  await redis.hset(baseWeightKey(target, ref.sha256), ADAPTER_CONFIG_FILE, config, ADAPTER_MODEL_FILE, model);
  return { ref, adapter, configText };
}

/** A result must be a PEFT adapter with exactly the base_weight's modules and shapes; else what differs. */
export function checkModules(bytes: Buffer, base: LoraAdapter, configText: string, jobId: string): string | null {
  let adapter: LoraAdapter;
  try {
    adapter = decodePeftAdapter(configText, bytes, `result of job ${jobId}`);
  } catch (e) {
    return (e as Error).message;
  }
  if (adapter.modules.size !== base.modules.size) return `${adapter.modules.size} modules, the base_weight has ${base.modules.size}`;
  for (const [k, b] of base.modules) {
    const m = adapter.modules.get(k);
    if (!m) return `module ${k} missing`;
    if (m.a.length !== b.a.length || m.b.length !== b.b.length) return `module ${k}: other shape than the base_weight's`;
    if (!m.a.every(Number.isFinite) || !m.b.every(Number.isFinite)) return `module ${k}: NaN or infinite values`;
  }
  return null;
}

/** The group's adapter is stored, was trained on these documents, and verifies: nothing to do. */
export function storedFor(store: AdapterStore, key: DocAdapterKey, group: TrainingGroup, modelFingerprint: string): boolean {
  const entry = store.get(key);
  if (!entry) return false;
  const was = entry.trainingConfig.documents ?? [key.id];
  const now = group.records.map((r) => r.passageId);
  return (
    Array.isArray(was) && [...was].sort().join('\u0000') === [...now].sort().join('\u0000') && store.verify(key, { modelFingerprint }).ok
  );
}

/** As encodeGroups: adapters stored with another recipe refuse the whole run, before anything is enqueued. */
export function checkRecipes(
  groups: readonly TrainingGroup[],
  store: AdapterStore,
  scope: Omit<DocAdapterKey, 'id'>,
  recipe: ReturnType<typeof resolveRecipe>,
): void {
  const clashes = groups.flatMap((g) => {
    const key = { ...scope, id: g.adapterId };
    const entry = store.get(key);
    if (!entry) return [];
    const was = storedRecipe(entry.trainingConfig);
    // A queue run trains on no warm-up: an adapter stored on top of one would be skipped as "already stored".
    if (entry.trainingConfig.warmup)
      throw new RecipeMismatchError(
        `adapter ${describeKey(key)} in ${store.root} was trained on top of a warm-up adapter, which rg encode --queue does not use: train into another adapter store or dataset`,
      );
    return was.examples === recipe.examples && was.loss === recipe.loss ? [] : [{ key, was }];
  });
  if (clashes.length === 0) return;
  const more = clashes.length > 1 ? ` (and ${clashes.length - 1} more adapters of this run)` : '';
  throw new RecipeMismatchError(
    `adapter ${describeKey(clashes[0].key)} in ${store.root} was trained with ${formatRecipe(clashes[0].was)}, this run asks for ${formatRecipe(recipe)}${more}: train into another adapter store or dataset to keep both, or delete the stored adapters`,
  );
}

/**
 * The worker reproduces the plain recipe (examples + loss, language-model objective). A recipe with more to it (a
 * distillation objective) would be trained differently by a worker than by rg encode: refused by name.
 */
export function checkSupported(recipe: object): void {
  for (const [field, value] of Object.entries(recipe)) {
    if (field === 'examples' || field === 'loss' || value === undefined || (field === 'objective' && value === 'lm')) continue;
    throw new Error(
      `recipe ${field} ${JSON.stringify(value)}: not supported by the encode queue (its workers train examples + loss only); run rg encode without --queue`,
    );
  }
}
