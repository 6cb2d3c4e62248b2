import type { AdapterLease, AdapterStore, DocAdapterKey, ModelDims } from '@rg/adapter-store';
import { type CompositionEntry, composeCat, type LoraWeights } from '@rg/lora';
import type { AdapterSource } from './model.js';

/**
 * Per-document (or per-cluster) adapters from an adapter store, as composition entries for `composeCat`.
 * `scope` is the key without the id (model, rank, alpha, dataset, lr, epochs). An entry stored in gradient mode
 * stands for base_weight - gamma * gradient, so it needs `gamma`.
 */
export function storeAdapterSource(
  store: AdapterStore,
  scope: Omit<DocAdapterKey, 'id'>,
  options: { gamma?: number; modelFingerprint?: string; model?: ModelDims } = {},
): AdapterSource<CompositionEntry> {
  // With the model's dimensions, a cold load names an adapter shaped for another model.
  const loadOptions = { modelFingerprint: options.modelFingerprint, model: options.model };
  // Entries are leased from the store and given back by `release` once composed, so that the store can read
  // later requests' adapters into the same buffers. An entry never released is simply never recycled.
  const leases = new WeakMap<CompositionEntry, AdapterLease>();
  return {
    async load(id) {
      const key = { ...scope, id };
      const entry = store.get(key);
      if (!entry) return null;
      const gradientMode = entry.mode === 'gradient';
      if (gradientMode && options.gamma === undefined)
        throw new Error(`adapter ${id} stores a gradient (--mode gradient): give gamma to apply it`);
      const baseKey = { model: scope.model, rank: scope.rank, alpha: scope.alpha };
      const lease = await store.lease(gradientMode ? [key, baseKey] : [key], loadOptions);
      const [adapter, base] = lease.adapters;
      const loaded: CompositionEntry = gradientMode ? { base, gradient: adapter, gamma: options.gamma! } : { adapter };
      leases.set(loaded, lease);
      return loaded;
    },
    release(entries) {
      for (const e of entries) leases.get(e)?.release();
    },
  };
}

/** The adapter stored under the DAPT id is something else (its training config has no kind "dapt"). */
export class NotDaptAdapterError extends Error {
  constructor(readonly relPath: string) {
    super(`${relPath} is not a DAPT adapter (no kind "dapt" in its training config)`);
    this.name = 'NotDaptAdapterError';
  }
}

/**
 * The one continual-pretraining adapter (method dapt), stored under `key`: the documents' scope with
 * @rg/lora-trainer's DAPT_ADAPTER_ID. Null when none is stored; NotDaptAdapterError when a document took the id.
 * It is composed once, for every question.
 */
export async function loadDaptAdapter(
  store: AdapterStore,
  key: DocAdapterKey,
  options: { gamma?: number; modelFingerprint?: string } = {},
): Promise<LoraWeights | null> {
  const entry = store.get(key);
  if (!entry) return null;
  if (entry.trainingConfig.kind !== 'dapt') throw new NotDaptAdapterError(entry.relPath);
  const { id, ...scope } = key;
  const source = storeAdapterSource(store, scope, options);
  const loaded = (await source.load(id))!;
  try {
    return composeCat([loaded]);
  } finally {
    source.release?.([loaded]);
  }
}
