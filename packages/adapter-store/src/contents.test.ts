import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADAPTER_MODEL_FILE, encodePeftAdapter, type LoraAdapter, writePeftAdapter } from '@rg/lora';
import { randomAdapter } from '@rg/lora/testing';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelDims } from './check.js';
import { AdapterStore, AdapterStoreError } from './store.js';

// Issue 17 case 3: adapter contents (finite weights, shapes that fit the model) are checked on import, verify and load.
const dirs: string[] = [];
function fresh(): string {
  const d = mkdtempSync(join(tmpdir(), 'rg-contents-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The dimensions randomAdapter's TINY shape was made for. */
const TINY_MODEL: ModelDims = { numLayers: 2, hiddenSize: 8, intermediateSize: 12, numHeads: 2, numKvHeads: 2, headDim: 4 };
/** Another model: hidden 16 (as an adapter for "hidden 960" meets a 576 model in the issue). */
const OTHER_MODEL: ModelDims = { ...TINY_MODEL, hiddenSize: 16, headDim: 8 };
const FP = 'fp:tiny';
const key = (id: string) => ({ model: 'tiny', rank: 2, alpha: 4, dataset: 'd', lr: 0.001, epochs: 1, id });

function poisoned(value: number): LoraAdapter {
  const a = randomAdapter(7);
  a.modules.get('1.v_proj')!.b[5] = value;
  return a;
}

/** Put `bad`'s bytes under a stored adapter and fix the manifest's hashes, as a store written by an older rg (which never checked values) would hold it. */
function smuggle(store: AdapterStore, root: string, id: string, bad: LoraAdapter): void {
  const entry = store.put(key(id), randomAdapter(7), { modelFingerprint: FP });
  const bytes = encodePeftAdapter(bad).model;
  writeFileSync(join(entry.path, ADAPTER_MODEL_FILE), bytes);
  const files: Record<string, { bytes: number; sha256: string }> = {
    ...entry.files,
    [ADAPTER_MODEL_FILE]: { bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') },
  };
  const content = createHash('sha256')
    .update(
      Object.keys(files)
        .sort()
        .map((n) => `${n}:${files[n].sha256}\n`)
        .join(''),
    )
    .digest('hex');
  const db = new Database(join(root, '.rg-manifest.sqlite'));
  db.prepare('UPDATE adapters SET files = ?, content_hash = ? WHERE path = ?').run(JSON.stringify(files), content, entry.relPath);
  db.close();
}

describe('fault: adapter contents', () => {
  it('put and import refuse NaN and Inf weights, naming the adapter, layer and module', () => {
    const root = fresh();
    const store = AdapterStore.open(root);
    expect(() => store.put(key('nan'), poisoned(Number.NaN), { modelFingerprint: FP })).toThrow(
      /adapter "nan" \(model tiny.*\): layer 1 v_proj lora_B holds NaN at index 5 of 16/,
    );
    const folder = join(fresh(), 'peft');
    writePeftAdapter(folder, poisoned(Number.POSITIVE_INFINITY));
    let err: unknown;
    try {
      store.importFrom(folder, { key: key('inf'), modelFingerprint: FP });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AdapterStoreError);
    expect((err as AdapterStoreError).problem).toBe('bad_values');
    expect((err as Error).message).toContain(`${folder} (adapter "inf"`);
    expect((err as Error).message).toContain('layer 1 v_proj lora_B holds Infinity at index 5');
    expect(store.list()).toHaveLength(0);
    store.close();
  });

  it('verify and load catch non-finite weights a store already holds (hashes alone said ok)', async () => {
    const root = fresh();
    const store = AdapterStore.open(root);
    smuggle(store, root, 'old', poisoned(Number.NaN));
    store.dropCache();
    const v = store.verify(key('old'));
    expect(v).toMatchObject({ ok: false, problem: 'bad_values' });
    expect(v.message).toMatch(/adapter "old" .*layer 1 v_proj lora_B holds NaN/);
    expect(() => store.load(key('old'))).toThrow(/layer 1 v_proj lora_B holds NaN/);
    await expect(store.lease([key('old')])).rejects.toThrow(/holds NaN/);
    expect(() => store.leaseSync([key('old')])).toThrow(/holds NaN/);
    store.close();
  });

  it('an adapter shaped for another model is refused on import, verify and load when the model is given', async () => {
    const root = fresh();
    const store = AdapterStore.open(root);
    const folder = join(fresh(), 'peft');
    writePeftAdapter(folder, randomAdapter(3));
    expect(() => store.importFrom(folder, { key: key('x'), modelFingerprint: FP, model: OTHER_MODEL })).toThrow(
      /adapter "x" .*layer 0 down_proj maps 12 -> 8 features, the model's down_proj maps 12 -> 16 \(hidden 16, .*trained for another model/,
    );
    store.importFrom(folder, { key: key('x'), modelFingerprint: FP, model: TINY_MODEL });
    expect(store.verify(key('x'), { model: TINY_MODEL }).ok).toBe(true);
    expect(store.verify(key('x'), { model: OTHER_MODEL })).toMatchObject({ ok: false, problem: 'wrong_shape' });
    // Both the LRU hit and a cold read check the shapes.
    expect(() => store.load(key('x'), { model: OTHER_MODEL })).toThrow(/adapter "x" .*layer 0 down_proj maps/);
    store.dropCache();
    await expect(store.lease([key('x')], { model: OTHER_MODEL })).rejects.toThrow(AdapterStoreError);
    const fewer = { ...TINY_MODEL, numLayers: 1 };
    expect(() => store.load(key('x'), { model: fewer })).toThrow(/adapter "x" .*: layer 1 \w+: the model has 1 layers/);
    expect(store.load(key('x'), { model: TINY_MODEL }).modules.size).toBe(6);
    store.close();
  });

  it('base_model_name_or_path naming another model warns on import and verify', () => {
    const root = fresh();
    const store = AdapterStore.open(root);
    const folder = join(fresh(), 'peft');
    const adapter = randomAdapter(4);
    adapter.config.baseModel = 'HuggingFaceTB/SmolLM2-360M-Instruct';
    writePeftAdapter(folder, adapter);
    const entry = store.importFrom(folder, { key: { ...key('w'), model: 'smollm2-135m-instruct' }, modelFingerprint: FP });
    expect(entry.warnings).toEqual([
      expect.stringMatching(
        /base_model_name_or_path "HuggingFaceTB\/SmolLM2-360M-Instruct", but it is stored for model "smollm2-135m-instruct"/,
      ),
    ]);
    expect(store.verify(entry.key).warnings).toHaveLength(1);
    const same = join(fresh(), 'peft');
    adapter.config.baseModel = 'HuggingFaceTB/SmolLM2-135M-Instruct';
    writePeftAdapter(same, adapter);
    expect(store.importFrom(same, { key: { ...key('ok'), model: 'smollm2-135m-instruct' }, modelFingerprint: FP }).warnings).toEqual([]);
    expect(readFileSync(join(entry.path, 'adapter_config.json'), 'utf8')).toContain('SmolLM2-360M');
    store.close();
  });
});

describe('fault: adapter store paths', () => {
  it('a read-only open of a mistyped path fails and creates nothing; a file or a broken manifest is named', () => {
    const dir = fresh();
    const typo = join(dir, 'adaptrs');
    expect(() => AdapterStore.open(typo, { create: false })).toThrow(`${typo}: no adapter store here`);
    expect(existsSync(typo)).toBe(false);
    writeFileSync(join(dir, 'f'), 'x');
    expect(() => AdapterStore.open(join(dir, 'f'))).toThrow(`${join(dir, 'f')}: is a file, expected an adapter store folder`);
    const broken = join(dir, 'broken');
    AdapterStore.open(broken).close();
    writeFileSync(join(broken, '.rg-manifest.sqlite'), 'not a database '.repeat(10));
    for (const f of ['-wal', '-shm']) rmSync(join(broken, `.rg-manifest.sqlite${f}`), { force: true });
    expect(() => AdapterStore.open(broken, { create: false })).toThrow(
      `${join(broken, '.rg-manifest.sqlite')}: cannot open the adapter manifest (file is not a database)`,
    );
  });
});
