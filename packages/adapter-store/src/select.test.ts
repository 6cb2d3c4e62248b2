import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomAdapter } from '@rg/lora/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { AdapterSelectionError, adapterLabel, describeEntry, exportedModel, selectAdapter, selectAdapters } from './select.js';
import { AdapterStore } from './store.js';

const root = mkdtempSync(join(tmpdir(), 'rg-select-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const FP = 'sha256:model-a';
const doc = (id: string, lr: number) => ({ model: 'smollm2', rank: 2, alpha: 4, dataset: 'popqa', lr, epochs: 1, id });

describe('selectAdapters / selectAdapter', () => {
  const store = AdapterStore.open(join(root, 'store'));
  store.put({ model: 'smollm2', rank: 2, alpha: 4 }, randomAdapter(1), { modelFingerprint: FP });
  store.put(doc('a', 1e-3), randomAdapter(2), { modelFingerprint: FP });
  store.put(doc('a', 3e-4), randomAdapter(3), { modelFingerprint: FP });
  store.put(doc('b', 1e-3), randomAdapter(4), { modelFingerprint: FP });

  it('selects by id, by the key fields, or the base_weight', () => {
    expect(selectAdapters(store, {}).map(adapterLabel).sort()).toEqual(['a', 'a', 'b', 'base_weight']);
    expect(selectAdapters(store, { id: 'a' })).toHaveLength(2);
    expect(selectAdapters(store, { lr: 1e-3 }).map(adapterLabel).sort()).toEqual(['a', 'b']);
    expect(adapterLabel(selectAdapter(store, { base: true }))).toBe('base_weight');
    const one = selectAdapter(store, { id: 'a', lr: 3e-4 });
    expect(describeEntry(one).split('\t').slice(0, 4)).toEqual(['a', 'smollm2', 'rank=2_alpha=4', 'popqa lr=0.0003 epoch=1']);
  });

  it('says why a selection of one adapter fails: none, several, or nothing named', () => {
    const problem = (f: () => unknown): [string, string] => {
      try {
        f();
      } catch (e) {
        if (e instanceof AdapterSelectionError) return [e.problem, e.message];
        throw e;
      }
      return ['', 'no error'];
    };
    expect(problem(() => selectAdapter(store, { id: 'zz' }))).toEqual(['none', `no adapter with id "zz" in ${store.root}`]);
    expect(problem(() => selectAdapter(store, { id: 'a' }))[0]).toBe('ambiguous');
    expect(problem(() => selectAdapter(store, { id: 'a' }))[1]).toMatch(/^id "a" matches 2 adapters \(.+, .+\)$/);
    expect(problem(() => selectAdapter(store, {}))[0]).toBe('no_id');
  });

  it('reads the model an export names, and nothing from a bare folder', () => {
    const out = join(root, 'export');
    store.exportTo(selectAdapter(store, { id: 'b' }).key, out);
    expect(exportedModel(out)).toBe('smollm2');
    expect(exportedModel(root)).toBeUndefined();
  });
});
