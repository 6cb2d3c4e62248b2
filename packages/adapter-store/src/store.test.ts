import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADAPTER_CONFIG_FILE, ADAPTER_MODEL_FILE, type LoraAdapter, readPeftAdapter, roundTripDtype, writePeftAdapter } from '@rg/lora';
import { randomAdapter } from '@rg/lora/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { adapterRelPath } from './layout.js';
import { AdapterStore } from './store.js';

const dirs: string[] = [];
function freshRoot(): string {
  const d = mkdtempSync(join(tmpdir(), 'rg-store-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const FP = 'sha256:model-a';
const key = (id: string, extra: Partial<{ rank: number; alpha: number }> = {}) => ({
  model: 'smollm2',
  rank: 2,
  alpha: 4,
  dataset: 'pubmedqa',
  lr: 0.0001,
  epochs: 1,
  id,
  ...extra,
});

/** A pid that is certainly dead: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('AdapterStore', () => {
  it('writes a PEFT folder at the layout path and reads back the same tensors; manifest holds what was given', () => {
    const store = AdapterStore.open(freshRoot());
    const adapter = randomAdapter(1);
    const entry = store.put(key('doc-1'), adapter, { modelFingerprint: FP, trainingConfig: { steps: 20 } });
    expect(entry.relPath).toBe('smollm2/rank=2_alpha=4/pubmedqa/lr=0.0001_epoch=1/doc-1');
    expect(entry.modelFingerprint).toBe(FP);
    expect(entry.trainingConfig).toEqual({ steps: 20 });
    expect(entry.dtype).toBe('fp32');
    expect(entry.bytes).toBe(readdirSync(entry.path).reduce((s, f) => s + readFileSync(join(entry.path, f)).byteLength, 0));
    // A plain PEFT folder: the standalone reader sees the same tensors.
    const fromDisk = readPeftAdapter(entry.path);
    const loaded = store.load(key('doc-1'), { modelFingerprint: FP });
    for (const [k, p] of adapter.modules) {
      expect(fromDisk.modules.get(k)!.a).toEqual(p.a);
      expect(loaded.modules.get(k)!.b).toEqual(p.b);
    }
    store.put({ model: 'smollm2', rank: 2, alpha: 4 }, randomAdapter(2), { modelFingerprint: FP });
    expect(store.list().map((e) => e.relPath)).toEqual(['smollm2/rank=2_alpha=4/base_weight', entry.relPath]);
    expect(store.list({ id: 'doc-1' })).toHaveLength(1);
    expect(store.list({ dataset: 'other' })).toHaveLength(0);
    // A run's scope (lr and epochs too) lists its documents only, not the base_weight or another run's.
    expect(store.list({ ...key('x'), id: undefined }).map((e) => e.relPath)).toEqual([entry.relPath]);
    expect(store.list({ ...key('x'), id: undefined, lr: 0.001 })).toHaveLength(0);
    store.close();
  });

  it('stores hostile ids inside the root and finds them again by id', () => {
    const root = freshRoot();
    const store = AdapterStore.open(root);
    const ids = ['../../escape', '/etc/passwd', '..', 'Doc', 'doc', '中文 🙂', 'x'.repeat(3000)];
    for (const [i, id] of ids.entries()) store.put(key(id), randomAdapter(i), { modelFingerprint: FP });
    expect(readdirSync(join(root, '..')).filter((f) => f === 'escape' || f === 'passwd')).toEqual([]);
    for (const [i, id] of ids.entries()) {
      const entry = store.get(key(id))!;
      expect(entry.path.startsWith(`${root}/smollm2/`)).toBe(true);
      expect(entry.key).toEqual(key(id));
      expect(store.load(key(id)).modules.get('0.q_proj')!.a).toEqual(randomAdapter(i).modules.get('0.q_proj')!.a);
    }
    store.close();
  });

  it('replaces an adapter atomically, and the LRU never serves a replaced version (even one written by another handle)', () => {
    const root = freshRoot();
    const a = AdapterStore.open(root);
    const b = AdapterStore.open(root);
    a.put(key('d'), randomAdapter(1), { modelFingerprint: FP });
    const first = a.load(key('d'));
    expect(a.load(key('d'))).toBe(first); // cached
    b.put(key('d'), randomAdapter(2), { modelFingerprint: FP });
    expect(a.load(key('d')).modules.get('0.q_proj')!.a).toEqual(randomAdapter(2).modules.get('0.q_proj')!.a);
    expect(readdirSync(join(root, '.tmp'))).toEqual([]);
    a.dropCache();
    expect(a.cachedBytes).toBe(0);
    a.close();
    b.close();
  });

  it('counts loads served from the LRU and read from disk, leases and async loads included', async () => {
    const root = freshRoot();
    const store = AdapterStore.open(root);
    store.put(key('d'), randomAdapter(1), { modelFingerprint: FP });
    store.put(key('e'), randomAdapter(2), { modelFingerprint: FP });
    expect(store.cacheStats).toEqual({ hits: 0, misses: 0 });
    store.load(key('d'));
    store.load(key('d'));
    expect(store.cacheStats).toEqual({ hits: 1, misses: 1 });
    (await store.lease([key('d'), key('e')])).release();
    await store.loadAsync(key('e'));
    expect(store.cacheStats).toEqual({ hits: 3, misses: 2 });
    // The replaced adapter's cached copy is no longer served: reading the new one is a miss.
    store.put(key('d'), randomAdapter(3), { modelFingerprint: FP });
    store.load(key('d'));
    expect(store.cacheStats).toEqual({ hits: 3, misses: 3 });
    store.close();
  });

  it('delete removes manifest row and files (unlearning); a second delete is a no-op', () => {
    const store = AdapterStore.open(freshRoot());
    const entry = store.put(key('gone'), randomAdapter(1), { modelFingerprint: FP });
    store.load(key('gone'));
    expect(store.delete(key('gone'))).toBe(true);
    expect(existsSync(entry.path)).toBe(false);
    expect(store.list()).toEqual([]);
    expect(() => store.load(key('gone'))).toThrow(/adapter "gone" .*: not in the store/);
    expect(store.delete(key('gone'))).toBe(false);
    store.close();
  });

  it('names the adapter and the problem: tampered, truncated, missing, other model, other rank', () => {
    const store = AdapterStore.open(freshRoot());
    const ids = ['tampered', 'truncated', 'missing', 'ok'];
    for (const id of ids) store.put(key(id), randomAdapter(1), { modelFingerprint: FP });
    const path = (id: string, f: string) => join(store.pathOf(key(id)), f);
    const bytes = readFileSync(path('tampered', ADAPTER_MODEL_FILE));
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(path('tampered', ADAPTER_MODEL_FILE), bytes);
    truncateSync(path('truncated', ADAPTER_MODEL_FILE), 100);
    rmSync(path('missing', ADAPTER_CONFIG_FILE));

    expect(() => store.load(key('tampered'))).toThrow(
      /adapter "tampered" .*adapter_model.safetensors has sha256 \w+, the manifest recorded \w+ \(file modified\)/,
    );
    expect(() => store.load(key('truncated'))).toThrow(
      /adapter "truncated" .*adapter_model.safetensors has 100 bytes, the manifest recorded \d+ \(truncated\)/,
    );
    expect(() => store.load(key('missing'))).toThrow(/adapter "missing" .*cannot read adapter_config.json .*ENOENT/);
    expect(() => store.load(key('ok'), { modelFingerprint: 'sha256:model-b' })).toThrow(
      /adapter "ok" .*trained for model fingerprint sha256:model-a, not for the requested sha256:model-b/,
    );
    expect(() => store.load(key('ok', { rank: 4 }))).toThrow(/not in the store .*has this id under smollm2\/rank=2_alpha=4/);
    expect(() => store.put(key('r4', { rank: 4 }), randomAdapter(1), { modelFingerprint: FP })).toThrow(/has rank 2, its key says rank 4/);
    expect(store.verify(key('ok'))).toMatchObject({ ok: true });
    expect(store.verify(key('tampered'))).toMatchObject({ ok: false, problem: 'hash_mismatch' });
    expect(store.verify(key('truncated'))).toMatchObject({ ok: false, problem: 'truncated' });
    expect(store.verify(key('missing'))).toMatchObject({ ok: false, problem: 'missing_file' });
    store.close();
  });

  it('loadAsync / fetchAsync read the same tensors as load and catch the same damage', async () => {
    const root = freshRoot();
    const store = AdapterStore.open(root);
    for (const [i, id] of ['a', 'b', 'c', 'tampered', 'missing'].entries())
      store.put(key(id), randomAdapter(i + 1), { modelFingerprint: FP });
    const reader = AdapterStore.open(root); // a second handle: its LRU is empty, so every load reads the files
    const [a, b, c] = await reader.fetchAsync([key('a'), key('b'), key('c')], { modelFingerprint: FP });
    for (const [got, id] of [
      [a, 'a'],
      [b, 'b'],
      [c, 'c'],
    ] as const) {
      const want = store.load(key(id));
      expect([...got.modules.keys()]).toEqual([...want.modules.keys()]);
      for (const [name, m] of want.modules) {
        expect(got.modules.get(name)!.a).toEqual(m.a);
        expect(got.modules.get(name)!.b).toEqual(m.b);
      }
    }
    expect(reader.cachedBytes).toBeGreaterThan(0);
    expect(await reader.loadAsync(key('a'))).toBe(a); // now served from the LRU

    const bytes = readFileSync(join(store.pathOf(key('tampered')), ADAPTER_MODEL_FILE));
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(join(store.pathOf(key('tampered')), ADAPTER_MODEL_FILE), bytes);
    rmSync(join(store.pathOf(key('missing')), ADAPTER_MODEL_FILE));
    await expect(reader.loadAsync(key('tampered'))).rejects.toThrow(
      /adapter "tampered" .*sha256 \w+, the manifest recorded \w+ \(file modified\)/,
    );
    await expect(reader.fetchAsync([key('a'), key('missing')])).rejects.toThrow(
      /adapter "missing" .*cannot read adapter_model.safetensors .*ENOENT/,
    );
    await expect(reader.loadAsync(key('a'), { modelFingerprint: 'sha256:model-b' })).rejects.toThrow(
      /not for the requested sha256:model-b/,
    );
    await expect(reader.loadAsync(key('nope'))).rejects.toThrow(/adapter "nope" .*not in the store/);
    reader.close();
    store.close();
  });

  it('stores fp16 and int8 smaller than fp32 and says so in the manifest', () => {
    const store = AdapterStore.open(freshRoot());
    const shape = { layers: 2, hidden: 256, intermediate: 512, targets: ['gate_proj', 'up_proj', 'down_proj'] };
    const sizes = Object.fromEntries(
      (['fp32', 'fp16', 'int8'] as const).map((dtype) => [
        dtype,
        store.put(key(dtype), randomAdapter(3, 2, 4, shape), { modelFingerprint: FP, dtype }).bytes,
      ]),
    );
    expect(sizes.fp16).toBeLessThan(sizes.fp32 * 0.55);
    expect(sizes.int8).toBeLessThan(sizes.fp16);
    expect(store.get(key('int8'))!.dtype).toBe('int8');
    expect(store.load(key('int8')).modules.size).toBe(6);
    store.close();
  });

  it('export writes a PEFT folder + rg_adapter.json that import restores; a bare PEFT folder imports with a given key', () => {
    const root = freshRoot();
    const store = AdapterStore.open(join(root, 'a'));
    store.put(key('x'), randomAdapter(1), { modelFingerprint: FP, dtype: 'int8', trainingConfig: { lr: 1e-4 }, mode: 'gradient' });
    store.exportTo(key('x'), join(root, 'out', 'x'), { dtype: 'fp32' });
    expect(readPeftAdapter(join(root, 'out', 'x')).modules.get('0.q_proj')!.a).toEqual(store.load(key('x')).modules.get('0.q_proj')!.a);
    expect(() => store.exportTo(key('x'), join(root, 'out', 'x'))).toThrow(/already exists/);

    const other = AdapterStore.open(join(root, 'b'));
    const imported = other.importFrom(join(root, 'out', 'x'));
    expect(imported).toMatchObject({ key: key('x'), modelFingerprint: FP, mode: 'gradient', trainingConfig: { lr: 1e-4 }, dtype: 'fp32' });
    expect(other.load(key('x')).modules.get('1.down_proj')!.b).toEqual(store.load(key('x')).modules.get('1.down_proj')!.b);

    const peftOne = fileURLToPath(new URL('../../../tools/reference/fixtures/adapter-store/peft-one', import.meta.url));
    const bare = other.importFrom(peftOne, {
      key: { model: 'tiny-llama', dataset: 'ds', lr: 0.001, epochs: 2, id: 'p1' },
      modelFingerprint: 'fp-tiny',
    });
    expect(bare.relPath).toBe('tiny-llama/rank=4_alpha=8/ds/lr=0.001_epoch=2/p1');
    expect(() => other.importFrom(peftOne, { key: { model: 'tiny-llama', id: 'p2' }, modelFingerprint: 'f' })).toThrow(/needs its dataset/);
    expect(() => other.importFrom(peftOne, { key: { model: 'tiny-llama' } })).toThrow(/no model fingerprint given/);
    store.close();
    other.close();
  });
});

describe('leases: the request path that reuses file buffers', () => {
  // Files over the pool's 64 KiB floor (4 layers of 256/512 at rank 2: ~74 KB).
  const shape = { layers: 4, hidden: 256, intermediate: 512, targets: ['gate_proj', 'up_proj', 'down_proj'] };
  const ids = ['l0', 'l1', 'l2', 'l3', 'l4', 'l5'];
  function filled(): { root: string; want: (id: string) => LoraAdapter; fileBytes: number; adapterBytes: number } {
    const root = freshRoot();
    const store = AdapterStore.open(root);
    for (const [i, id] of ids.entries()) store.put(key(id), randomAdapter(10 + i, 2, 4, shape), { modelFingerprint: FP });
    const fileBytes = store.get(key('l0'))!.files[ADAPTER_MODEL_FILE].bytes;
    store.close();
    const one = randomAdapter(0, 2, 4, shape);
    let bytes = 0;
    for (const p of one.modules.values()) bytes += p.a.byteLength + p.b.byteLength;
    return { root, want: (id) => randomAdapter(10 + ids.indexOf(id), 2, 4, shape), fileBytes, adapterBytes: bytes };
  }
  const expectSame = (got: LoraAdapter, want: LoraAdapter) => {
    for (const [name, m] of want.modules) {
      expect(got.modules.get(name)!.a).toEqual(m.a);
      expect(got.modules.get(name)!.b).toEqual(m.b);
    }
  };
  const buffersOf = (a: LoraAdapter) => new Set([...a.modules.values()].map((p) => p.a.buffer));

  it('a released lease gives its buffers back once its adapters leave the LRU; the next cold lease reads into them', async () => {
    const { root, want, fileBytes } = filled();
    const reader = AdapterStore.open(root);
    const first = await reader.lease(
      ['l0', 'l1', 'l2'].map((id) => key(id)),
      { modelFingerprint: FP },
    );
    for (const [i, id] of ['l0', 'l1', 'l2'].entries()) expectSame(first.adapters[i], want(id));
    const old = new Set(first.adapters.flatMap((a) => [...buffersOf(a)]));
    expect(old.size).toBe(3); // one file buffer per adapter, which its fp32 tensors view
    first.release();
    first.release(); // idempotent
    expect(reader.pooledBytes).toBe(0); // still in the LRU
    reader.dropCache();
    expect(reader.pooledBytes).toBe(3 * fileBytes);
    const second = reader.leaseSync(['l3', 'l4'].map((id) => key(id)));
    const third = await reader.lease([key('l5')]);
    expect(reader.pooledBytes).toBe(0);
    for (const [i, id] of ['l3', 'l4'].entries()) expectSame(second.adapters[i], want(id));
    expectSame(third.adapters[0], want('l5'));
    for (const a of [...second.adapters, ...third.adapters]) for (const b of buffersOf(a)) expect(old.has(b)).toBe(true);
    // Same config and header as the adapters whose buffers they took: their tensor views were reused as well.
    const oldModules = new Set(first.adapters.map((a) => a.modules));
    for (const a of [...second.adapters, ...third.adapters]) expect(oldModules.has(a.modules)).toBe(true);
    second.release();
    third.release();
    reader.close();
  });

  it('warm reads adapters into the LRU up to its fill, uncounted; later leases are hits; a broken one is counted, not thrown', async () => {
    const { root, want, adapterBytes } = filled();
    // Room for four adapters: a fill of 0.9 stops warming before the fourth would not fit under it.
    const reader = AdapterStore.open(root, { cacheBytes: 4 * adapterBytes + 1024 });
    rmSync(join(root, adapterRelPath(key('l1')), ADAPTER_MODEL_FILE));
    const warmed = await reader.warm(
      ids.map((id) => key(id)),
      { modelFingerprint: FP },
    );
    expect(warmed).toMatchObject({ adapters: 3, failed: 1, complete: false });
    expect(warmed.cachedBytes).toBe(3 * adapterBytes);
    expect(reader.cacheStats).toEqual({ hits: 0, misses: 0 });
    const lease = await reader.lease(['l0', 'l2', 'l3'].map((id) => key(id)));
    expect(reader.cacheStats).toEqual({ hits: 3, misses: 0 });
    for (const [i, id] of ['l0', 'l2', 'l3'].entries()) expectSame(lease.adapters[i], want(id));
    lease.release();
    // Warmed entries stay recyclable (not escaped): dropped from the LRU, their buffers go to the pool.
    reader.dropCache();
    expect(reader.pooledBytes).toBeGreaterThan(0);
    // Everything fits: complete; an aborted warm stops at once.
    const roomy = AdapterStore.open(root);
    expect(await roomy.warm([key('l4'), key('l5')])).toMatchObject({ adapters: 2, failed: 0, complete: true });
    expect(await roomy.warm([key('l0')], { signal: AbortSignal.abort() })).toMatchObject({ adapters: 0, complete: false });
    roomy.close();
    reader.close();
  });

  it('fp16 and int8 leases widen into the arrays of adapters that left use; plain loads keep theirs', async () => {
    const root = freshRoot();
    const writer = AdapterStore.open(root);
    for (const dtype of ['fp16', 'int8'] as const)
      for (const [i, id] of ids.entries())
        writer.put(key(`${dtype}-${id}`), randomAdapter(10 + i, 2, 4, shape), { modelFingerprint: FP, dtype });
    writer.close();
    const reader = AdapterStore.open(root);
    for (const dtype of ['fp16', 'int8'] as const) {
      const want = (i: number) => roundTripDtype(randomAdapter(10 + i, 2, 4, shape), dtype);
      const plain = await reader.loadAsync(key(`${dtype}-l0`));
      const first = await reader.lease([key(`${dtype}-l1`), key(`${dtype}-l2`)]);
      first.release();
      reader.dropCache();
      const second = reader.leaseSync([key(`${dtype}-l3`), key(`${dtype}-l4`)]);
      const reused = new Set(first.adapters.map((a) => a.modules));
      for (const [j, a] of second.adapters.entries()) {
        expect(reused.has(a.modules)).toBe(true);
        expectSame(a, want(3 + j));
      }
      expectSame(plain, want(0));
      second.release();
    }
    reader.close();
  });

  it('a recycled buffer whose next file has another config is decoded afresh', async () => {
    const { root, want } = filled();
    const other = { ...key('l0'), alpha: 8 }; // same tensors and file size, another lora_alpha
    const writer = AdapterStore.open(root);
    const same = want('l0');
    writer.put(other, { ...same, config: { ...same.config, alpha: 8 } }, { modelFingerprint: FP });
    writer.close();
    const reader = AdapterStore.open(root);
    const first = await reader.lease([key('l0')]);
    first.release();
    reader.dropCache();
    const second = await reader.lease([other]);
    expect(second.adapters[0].config.alpha).toBe(8);
    expect(second.adapters[0].modules).not.toBe(first.adapters[0].modules);
    expectSame(second.adapters[0], want('l0'));
    reader.close();
  });

  it('a held lease, and every adapter a plain load handed out, keep their values while other loads evict and recycle', async () => {
    const { root, want, adapterBytes } = filled();
    const reader = AdapterStore.open(root, { cacheBytes: adapterBytes }); // room for one: every load evicts
    const plain = await reader.loadAsync(key('l0'));
    const plainSync = reader.load(key('l1'));
    const held = await reader.lease([key('l2')]);
    for (let i = 0; i < 6; i++) {
      const a = await reader.lease([key('l3'), key('l4')]);
      a.release();
      const b = reader.leaseSync([key('l5')]);
      b.release();
    }
    expect(reader.pooledBytes).toBeGreaterThan(0); // recycling did happen meanwhile
    expectSame(plain, want('l0'));
    expectSame(plainSync, want('l1'));
    expectSame(held.adapters[0], want('l2'));
    held.release();
    reader.close();
  });

  it('a lease that fails on one key names it and pins none of the others; damage is caught as by load', async () => {
    const { root, fileBytes } = filled();
    const reader = AdapterStore.open(root);
    await expect(reader.lease([key('l0'), key('nope')])).rejects.toThrow(/adapter "nope" .*not in the store/);
    expect(() => reader.leaseSync([key('l1'), key('nope')])).toThrow(/adapter "nope" .*not in the store/);
    reader.dropCache();
    expect(reader.pooledBytes).toBe(2 * fileBytes); // l0 and l1 were unpinned
    const file = join(reader.pathOf(key('l2')), ADAPTER_MODEL_FILE);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(file, bytes);
    await expect(reader.lease([key('l2')])).rejects.toThrow(/adapter "l2" .*\(file modified\)/);
    expect(() => reader.leaseSync([key('l2')])).toThrow(/adapter "l2" .*\(file modified\)/);
    reader.close();
  });
});

describe('recovery of a store interrupted mid-write', () => {
  it('drops staging folders of dead writers and puts a moved-aside adapter back', () => {
    const root = freshRoot();
    let store = AdapterStore.open(root);
    store.put(key('kept'), randomAdapter(1), { modelFingerprint: FP });
    store.put(key('swapped'), randomAdapter(2), { modelFingerprint: FP });
    store.put(key('committed'), randomAdapter(3), { modelFingerprint: FP });
    store.close();
    const pid = deadPid();
    const tmp = join(root, '.tmp');
    // 1. A writer died while writing its staging folder.
    mkdirSync(join(tmp, `new.${pid}.aa`));
    writeFileSync(join(tmp, `new.${pid}.aa`, ADAPTER_MODEL_FILE), 'partial');
    // 2. A writer died between moving the old folder aside and renaming the new one in.
    const rel = adapterRelPath(key('kept'));
    writeFileSync(join(tmp, `old.${pid}.bb.target`), rel);
    renameSync(join(root, rel), join(tmp, `old.${pid}.bb`));
    // 3. ... or after renaming the new one in, before the manifest commit.
    const rel2 = adapterRelPath(key('swapped'));
    writeFileSync(join(tmp, `old.${pid}.cc.target`), rel2);
    renameSync(join(root, rel2), join(tmp, `old.${pid}.cc`));
    writePeftAdapter(join(root, rel2), randomAdapter(99));
    // 4. ... or after the commit, before dropping the old folder.
    const rel3 = adapterRelPath(key('committed'));
    writeFileSync(join(tmp, `old.${pid}.dd.target`), rel3);
    writePeftAdapter(join(tmp, `old.${pid}.dd`), randomAdapter(98));

    store = AdapterStore.open(root);
    expect(readdirSync(tmp)).toEqual([]);
    for (const [id, seed] of [
      ['kept', 1],
      ['swapped', 2],
      ['committed', 3],
    ] as const) {
      expect(store.verify(key(id)).ok).toBe(true);
      expect(store.load(key(id)).modules.get('1.v_proj')!.b).toEqual(randomAdapter(seed).modules.get('1.v_proj')!.b);
    }
    store.close();
  });
});
