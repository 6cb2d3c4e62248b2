import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDocKey } from './layout.js';
import type { AdapterStore, ListFilter, ManifestEntry } from './store.js';
import { RG_ADAPTER_FILE } from './store-types.js';

/** Which stored adapters: a document's or cluster's id, or the base_weight (`base`), narrowed by the key's fields. */
export interface AdapterSelector extends Omit<ListFilter, 'id'> {
  id?: string;
  base?: boolean;
}

/** A selection that should have named exactly one adapter and did not (`none`, `ambiguous`), or named nothing (`no_id`). */
export class AdapterSelectionError extends Error {
  override name = 'AdapterSelectionError';
  constructor(
    readonly problem: 'none' | 'no_id' | 'ambiguous',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The manifest entries a selector matches. Without an id (and without `dataset`), every document adapter and the
 * base_weights match; `lr` and `epochs` narrow to trained adapters only (a base_weight has neither).
 */
export function selectAdapters(store: AdapterStore, s: AdapterSelector): ManifestEntry[] {
  const filter: ListFilter = { model: s.model, dataset: s.dataset, rank: s.rank, alpha: s.alpha, id: s.base ? undefined : s.id };
  if (!s.base) Object.assign(filter, { lr: s.lr, epochs: s.epochs });
  return store.list(filter).filter((e) => {
    if (s.base) return !isDocKey(e.key);
    return isDocKey(e.key) || (s.id === undefined && s.dataset === undefined);
  });
}

/** The one entry a selector matches; AdapterSelectionError when it matches none or several (the first five named). */
export function selectAdapter(store: AdapterStore, s: AdapterSelector): ManifestEntry {
  if (s.id === undefined && !s.base) throw new AdapterSelectionError('no_id', 'give an adapter id, or select the base_weight');
  const found = selectAdapters(store, s);
  const what = s.base ? 'base_weight' : `id "${s.id}"`;
  if (found.length === 0)
    throw new AdapterSelectionError('none', `no adapter with ${what} in ${store.root}${s.model ? ` for model ${s.model}` : ''}`);
  if (found.length > 1) {
    const names = found.slice(0, 5).map((e) => e.relPath);
    throw new AdapterSelectionError(
      'ambiguous',
      `${what} matches ${found.length} adapters (${names.join(', ')}${found.length > 5 ? ', ...' : ''})`,
    );
  }
  return found[0];
}

/** An entry's id, or base_weight. */
export function adapterLabel(e: ManifestEntry): string {
  return isDocKey(e.key) ? e.key.id : 'base_weight';
}

/** One tab-separated line: id, model, shape, training run, mode, dtype, bytes, created. */
export function describeEntry(e: ManifestEntry): string {
  const run = isDocKey(e.key) ? `${e.key.dataset} lr=${e.key.lr} epoch=${e.key.epochs}` : '-';
  return [adapterLabel(e), e.key.model, `rank=${e.key.rank}_alpha=${e.key.alpha}`, run, e.mode, e.dtype, `${e.bytes} B`, e.createdAt].join(
    '\t',
  );
}

/** The model an exported folder's rg_adapter.json names (undefined for a bare PEFT folder or an unreadable record). */
export function exportedModel(dir: string): string | undefined {
  try {
    const record = JSON.parse(readFileSync(join(dir, RG_ADAPTER_FILE), 'utf8')) as { key?: { model?: unknown } };
    return typeof record.key?.model === 'string' ? record.key.model : undefined;
  } catch {
    return undefined;
  }
}
