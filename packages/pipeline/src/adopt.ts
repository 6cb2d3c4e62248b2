import { type AdapterStore, isDocKey } from '@rg/adapter-store';
import { storedRecipe } from '@rg/lora-trainer';
import { CollectionSettingsError } from './settings.js';
import type { CollectionSettings, OpenCollectionOptions } from './types.js';

/**
 * Fits new settings to an adapter store that already holds adapters (a folder `rg demo` or `rg encode` made), so
 * that the collection answers with them and trains its new documents the same way:
 * - no adapters under the dataset asked for, and it was not given explicitly, while the store holds adapters of this
 *   model and shape under exactly one dataset: that dataset (`rg encode` names it after its input file, `rg demo`
 *   "demo"; the same rule as `rg infer`);
 * - the stored adapters' recipe (layout and loss), unless given explicitly; given and different, it is an error:
 *   lora-trainer refuses to mix recipes under one scope.
 */
export function adoptStoredAdapters(
  settings: CollectionSettings,
  create: NonNullable<OpenCollectionOptions['create']>,
  store: AdapterStore,
  modelName: string,
  where: string,
): CollectionSettings {
  const { rank, alpha, lr, epochs } = settings.recipe;
  const docEntries = store
    .list({ model: modelName, rank, alpha, lr, epochs })
    .flatMap((e) => (isDocKey(e.key) ? [{ key: e.key, entry: e }] : []));
  const datasets = new Set(docEntries.map((e) => e.key.dataset));
  let adapterDataset = settings.adapterDataset;
  if (!datasets.has(adapterDataset) && create.adapterDataset === undefined && datasets.size === 1) [adapterDataset] = datasets;
  const inScope = docEntries.find((e) => e.key.dataset === adapterDataset);
  if (!inScope) return { ...settings, adapterDataset };
  const stored = storedRecipe(inScope.entry.trainingConfig);
  for (const field of ['examples', 'loss'] as const) {
    if (settings.recipe[field] !== stored[field] && create.recipe?.[field] !== undefined) {
      throw new CollectionSettingsError(
        `${where}: recipe.${field}: "${settings.recipe[field]}" but the adapters already in ${store.root} under dataset "${adapterDataset}" were trained with ${field} "${stored[field]}" (give that, or another adapterDir or adapterDataset)`,
      );
    }
  }
  return { ...settings, adapterDataset, recipe: { ...settings.recipe, examples: stored.examples, loss: stored.loss } };
}
