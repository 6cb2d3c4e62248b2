import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'rg-cli-bench-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// Runs the benchmark tiny to check what it reports; the figures themselves come from `rg bench store --json`.
describe('rg bench store', () => {
  it('reports write throughput, warm/cold fetch percentiles and dtype sizes, and removes its store', async () => {
    const dir = join(root, 'store');
    const r = await runCli(['bench', 'store', '--count', '4', '--requests', '3', '--no-peer', '--dir', dir, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      bench: 'store',
      count: 4,
      k: 3,
      shape: { layers: 30, hidden: 576, intermediate: 1536, rank: 2 },
      peer: { skipped: '--no-peer' },
      fetchProcess: 'fresh',
      fetchPath: 'lease',
    });
    expect(out.commit === null || /^[0-9a-f]{7,}(\+dirty)?$/.test(out.commit)).toBe(true);
    // The run record every benchmark carries (runCli reports a quiet machine).
    expect(out).toMatchObject({ busy: false, load: { start: [0, 0, 0], end: [0, 0, 0] }, machine: { cores: expect.any(Number) } });
    // 30 layers x (gate, up, down) x (A + B) fp32 at rank 2, plus headers.
    expect(out.write.bytesPerAdapter).toBeGreaterThan(30 * 12_672 * 4);
    for (const mode of ['warm', 'coldPageCacheWarm', 'cold', 'coldSync', 'coldRawRead']) {
      expect(out.fetch[mode].wallMs.n).toBe(3);
      expect(out.fetch[mode].wallMs.p99).toBeGreaterThanOrEqual(out.fetch[mode].wallMs.p50);
      expect(out.fetch[mode].cpuMs.p99).toBeGreaterThanOrEqual(out.fetch[mode].cpuMs.p50);
    }
    expect(out.dtypes.fp16.bytesPerAdapter).toBeLessThan(out.dtypes.fp32.bytesPerAdapter * 0.55);
    expect(out.dtypes.int8.bytesPerAdapter).toBeLessThan(out.dtypes.fp16.bytesPerAdapter);
    expect(out.dtypes.int8.maxRelativeError).toBeLessThan(0.01);
    expect(existsSync(dir)).toBe(false);
    const again = await runCli(['bench', 'store', '--count', '2', '--k', '3', '--json']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/--k 3 is larger than --count 2/);
  });

  it('--keep then --reuse times fetches on the kept store without writing; --in-process times them in the writer; --unleased the plain path', async () => {
    const dir = join(root, 'kept');
    const first = await runCli([
      'bench',
      'store',
      '--count',
      '5',
      '--requests',
      '2',
      '--no-peer',
      '--dir',
      dir,
      '--keep',
      '--in-process',
      '--json',
    ]);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).fetchProcess).toBe('writer');
    const again = await runCli([
      'bench',
      'store',
      '--reuse',
      '--count',
      '5',
      '--requests',
      '2',
      '--unleased',
      '--no-peer',
      '--dir',
      dir,
      '--json',
    ]);
    expect(again.code).toBe(0);
    const out = JSON.parse(again.stdout);
    expect(out.write).toBeNull();
    expect(out.fetchPath).toBe('fetchAsync');
    expect(out.fetch.cold.wallMs.p99).toBeGreaterThan(0);
    expect(existsSync(dir)).toBe(true); // --reuse never deletes the store it was given
    const missing = await runCli(['bench', 'store', '--reuse', '--json']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--reuse needs --dir/);
  });

  it('stores the adapters in the dtype asked for (--dtype fp16: about half the bytes)', async () => {
    const r = await runCli(['bench', 'store', '--count', '3', '--requests', '2', '--dtype', 'fp16', '--no-peer', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.shape.dtype).toBe('fp16');
    expect(out.write.bytesPerAdapter).toBe(out.dtypes.fp16.bytesPerAdapter);
    const bad = await runCli(['bench', 'store', '--dtype', 'bf16', '--json']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--dtype.*bf16/);
  });
});
