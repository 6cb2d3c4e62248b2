import type { AdapterStore, CompositionEntry, DocAdapterKey } from '@rg/adapter-store';
import type { AdapterSource } from './model.js';

/**
 * Per-document (or per-cluster) adapters from an adapter store, as composition entries for `composeCat`.
 * `scope` is the key without the id (model, rank, alpha, dataset, lr, epochs). An entry stored in gradient mode
 * stands for base_weight - gamma * gradient, so it needs `gamma`.
 */
export function storeAdapterSource(
  store: AdapterStore,
  scope: Omit<DocAdapterKey, 'id'>,
  options: { gamma?: number; modelFingerprint?: string } = {},
): AdapterSource<CompositionEntry> {
  const loadOptions = { modelFingerprint: options.modelFingerprint };
  return {
    async load(id) {
      const key = { ...scope, id };
      const entry = store.get(key);
      if (!entry) return null;
      const adapter = await store.loadAsync(key, loadOptions);
      if (entry.mode !== 'gradient') return { adapter };
      if (options.gamma === undefined) throw new Error(`adapter ${id} stores a gradient (--mode gradient): give gamma to apply it`);
      const base = await store.loadAsync({ model: scope.model, rank: scope.rank, alpha: scope.alpha }, loadOptions);
      return { base, gradient: adapter, gamma: options.gamma };
    },
  };
}
