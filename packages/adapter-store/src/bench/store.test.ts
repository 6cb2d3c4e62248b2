import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STORE_BENCH_DEFAULTS, storeBench } from './index.js';

const root = mkdtempSync(join(tmpdir(), 'rg-store-bench-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const MODES = ['warm', 'coldPageCacheWarm', 'cold', 'coldSync', 'coldRawRead'] as const;
const tiny = { ...STORE_BENCH_DEFAULTS, count: 4, requests: 3 };

// Tiny runs that check what the benchmark measures and reports; the figures come from `nx run adapter-store:bench`.
describe('storeBench', () => {
  it('writes the store, times the requested fetches in every mode, sizes each dtype, and removes the store', async () => {
    const dir = join(root, 'store');
    const said: string[] = [];
    let written = 0;
    const out = await storeBench({ ...tiny, dir, inProcess: true, onWrite: () => written++ }, (line) => said.push(line));
    expect(written).toBe(4);
    expect(out).toMatchObject({ count: 4, k: 3, requests: 3, fetchProcess: 'writer', fetchPath: 'lease', peer: { skipped: '--no-peer' } });
    expect(out.shape).toEqual({
      layers: 30,
      hidden: 576,
      intermediate: 1536,
      rank: 2,
      targets: ['gate_proj', 'up_proj', 'down_proj'],
      dtype: 'fp32',
    });
    // 30 layers x (gate, up, down) x (A + B) fp32 at rank 2, plus headers.
    expect(out.write!.bytesPerAdapter).toBeGreaterThan(30 * 12_672 * 4);
    expect(out.write!.adaptersPerS).toBeGreaterThan(0);
    for (const mode of MODES) {
      const { wallMs, cpuMs } = out.fetch[mode];
      expect(wallMs.n).toBe(3);
      expect(cpuMs.n).toBe(3);
      expect(Number.isFinite(wallMs.p99)).toBe(true);
      expect(wallMs.p50).toBeGreaterThan(0);
      expect(wallMs.p99).toBeGreaterThanOrEqual(wallMs.p50);
      expect(cpuMs.p99).toBeGreaterThanOrEqual(cpuMs.p50);
    }
    expect(out.composeCatMs.n).toBe(20);
    expect(out.dtypes.fp16.bytesPerAdapter).toBeLessThan(out.dtypes.fp32.bytesPerAdapter * 0.55);
    expect(out.dtypes.int8.maxRelativeError).toBeLessThan(0.01);
    expect(out.dtypes.fp32.maxRelativeError).toBe(0);
    expect(said).toContain('bench store: warm fetches');
    expect(existsSync(dir)).toBe(false);
    // The order of the fields is the order rg bench store prints them in.
    expect(Object.keys(out)).toEqual([
      'shape',
      'count',
      'k',
      'requests',
      'write',
      'fetchProcess',
      'fetchPath',
      'fetch',
      'composeCatMs',
      'dtypes',
      'peer',
      'goals',
    ]);
  });

  it('times fetches in a fresh reader process by default, and on a kept store with reuse, writing nothing', async () => {
    const dir = join(root, 'kept');
    const first = await storeBench({ ...tiny, count: 5, requests: 2, dtype: 'fp16', dir, keep: true });
    expect(first.fetchProcess).toBe('fresh');
    expect(first.write!.bytesPerAdapter).toBe(first.dtypes.fp16.bytesPerAdapter);
    expect(first.fetch.cold.wallMs.n).toBe(2);
    const again = await storeBench({ ...tiny, count: 5, requests: 2, dir, reuse: true, unleased: true });
    expect(again.write).toBeNull();
    expect(again.fetchPath).toBe('fetchAsync');
    expect(again.fetch.cold.wallMs.p99).toBeGreaterThan(0);
    expect(existsSync(dir)).toBe(true); // reuse never deletes the store it was given
  });

  it('refuses options it cannot honour, and says why it skipped a missing peer', async () => {
    await expect(storeBench({ ...tiny, count: 2 })).rejects.toThrow(/k 3 is larger than count 2/);
    await expect(storeBench({ ...tiny, reuse: true })).rejects.toThrow(/reuse needs dir/);
    const out = await storeBench({
      ...tiny,
      k: 1,
      requests: 1,
      inProcess: true,
      peer: { python: join(root, 'no-python'), script: 'x.py' },
    });
    expect(out.peer.skipped).toMatch(/^needs .*no-python and x\.py/);
  });
});
