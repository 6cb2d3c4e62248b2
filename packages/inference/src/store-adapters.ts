import type { AdapterLease, AdapterStore, CompositionEntry, DocAdapterKey } from '@rg/adapter-store';
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
  // Entries are leased from the store and given back by `release` once composed, so that the store can read
  // later requests' adapters into the same buffers. An entry never released is simply never recycled.
  const leases = new WeakMap<CompositionEntry, AdapterLease>();
  return {
    async load(id) {
      const key = { ...scope, id };
      const entry = store.get(key);
      if (!entry) return null;
      if (entry.mode !== 'gradient') {
        const lease = await store.lease([key], loadOptions);
        const loaded = { adapter: lease.adapters[0] };
        leases.set(loaded, lease);
        return loaded;
      }
      if (options.gamma === undefined) throw new Error(`adapter ${id} stores a gradient (--mode gradient): give gamma to apply it`);
      const lease = await store.lease([key, { model: scope.model, rank: scope.rank, alpha: scope.alpha }], loadOptions);
      const [gradient, base] = lease.adapters;
      const loaded = { base, gradient, gamma: options.gamma };
      leases.set(loaded, lease);
      return loaded;
    },
    release(entries) {
      for (const e of entries) leases.get(e)?.release();
    },
  };
}
