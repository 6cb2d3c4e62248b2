import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { composeCat, type LoraAdapter } from '@rg/lora';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDaptAdapter, NotDaptAdapterError, storeAdapterSource } from './store-adapters.js';

const base = { model: 'tiny', rank: 1, alpha: 2 };
const scope = { ...base, dataset: 'toy', lr: 0.001, epochs: 1 };

/** A rank-1 adapter on one 2x2 module: A = [a0, a1], B = [b0, b1]. */
function adapter(a: number[], b: number[]): LoraAdapter {
  return {
    config: { rank: 1, alpha: 2, targetModules: ['down_proj'], baseModel: null, useRslora: false, dropout: 0 },
    modules: new Map([['0.down_proj', { inFeatures: 2, outFeatures: 2, a: Float32Array.from(a), b: Float32Array.from(b) }]]),
  };
}

const store = AdapterStore.open(mkdtempSync(join(tmpdir(), 'rg-inf-store-')));
afterAll(() => store.close());
store.put(base, adapter([1, 1], [0, 0]), { modelFingerprint: 'fp' });
store.put({ ...scope, id: 'doc-a' }, adapter([1, 2], [3, 4]), { modelFingerprint: 'fp' });
store.put({ ...scope, id: 'doc-g' }, adapter([0.5, 0.5], [1, -1]), { modelFingerprint: 'fp', mode: 'gradient' });
store.put({ ...scope, id: '_dapt' }, adapter([2, 0], [1, 1]), { modelFingerprint: 'fp', trainingConfig: { kind: 'dapt' } });

describe('storeAdapterSource', () => {
  it('returns trained adapters as they are and null for documents without one', async () => {
    const source = storeAdapterSource(store, scope);
    const entry = await source.load('doc-a');
    expect(entry && 'adapter' in entry ? Array.from(entry.adapter.modules.get('0.down_proj')!.a) : null).toEqual([1, 2]);
    expect(await source.load('no-such-doc')).toBeNull();
  });

  it('leases what it loads and gives it back on release: the entries stay valid until then', async () => {
    const source = storeAdapterSource(store, scope, { gamma: 1 });
    const entries = [(await source.load('doc-a'))!, (await source.load('doc-g'))!];
    const before = composeCat(entries);
    store.dropCache(); // out of the LRU: only the lease holds them now
    expect(composeCat(entries)).toEqual(before);
    source.release!(entries);
    source.release!(entries); // twice: no effect
    expect(Array.from(composeCat([(await source.load('doc-a'))!]).modules.get('0.down_proj')!.a)).toEqual([1, 2]);
  });

  it('turns a gradient entry into base_weight - gamma * gradient, and needs gamma for it', async () => {
    const composed = composeCat([(await storeAdapterSource(store, scope, { gamma: 2 }).load('doc-g'))!]);
    const m = composed.modules.get('0.down_proj')!;
    // A = [1,1] - 2*[0.5,0.5] = [0,0]; B = ([0,0] - 2*[1,-1]) * scale (alpha/r = 2) = [-4, 4]
    expect(Array.from(m.a)).toEqual([0, 0]);
    expect(Array.from(m.b)).toEqual([-4, 4]);
    await expect(storeAdapterSource(store, scope).load('doc-g')).rejects.toThrow(/doc-g stores a gradient.*give gamma/);
  });

  it('refuses adapters trained for another model fingerprint', async () => {
    await expect(storeAdapterSource(store, scope, { modelFingerprint: 'other' }).load('doc-a')).rejects.toThrow(/fingerprint/);
  });
});

describe('loadDaptAdapter', () => {
  it('composes the DAPT adapter alone, gives null when none is stored, and refuses a document under its id', async () => {
    const dapt = await loadDaptAdapter(store, { ...scope, id: '_dapt' }, { modelFingerprint: 'fp' });
    // B scaled by alpha / rank = 2.
    expect(Array.from(dapt!.modules.get('0.down_proj')!.b)).toEqual([2, 2]);
    expect(await loadDaptAdapter(store, { ...scope, dataset: 'other', id: '_dapt' })).toBeNull();
    const taken = loadDaptAdapter(store, { ...scope, id: 'doc-a' });
    await expect(taken).rejects.toThrow(NotDaptAdapterError);
    await expect(taken).rejects.toThrow(/doc-a is not a DAPT adapter \(no kind "dapt" in its training config\)/);
  });
});
