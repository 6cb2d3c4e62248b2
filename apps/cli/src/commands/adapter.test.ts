import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { type LoraAdapter, type LoraPair, readPeftAdapter } from '@rg/lora';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'rg-cli-adapter-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function adapter(seed: number, rank = 2): LoraAdapter {
  const modules = new Map<string, LoraPair>();
  for (let layer = 0; layer < 2; layer++) {
    const a = Float32Array.from({ length: rank * 8 }, (_, i) => Math.sin(seed + i * 0.7 + layer));
    const b = Float32Array.from({ length: 8 * rank }, (_, i) => Math.cos(seed + i * 1.3 - layer));
    modules.set(`${layer}.q_proj`, { inFeatures: 8, outFeatures: 8, a, b });
  }
  return { config: { rank, alpha: 4, targetModules: ['q_proj'], baseModel: null, useRslora: false, dropout: 0 }, modules };
}

const key = (id: string, dataset = 'pubmedqa') => ({ model: 'tiny', rank: 2, alpha: 4, dataset, lr: 0.0001, epochs: 1, id });

function seed(dir: string): void {
  const store = AdapterStore.open(dir);
  store.put({ model: 'tiny', rank: 2, alpha: 4 }, adapter(0), { modelFingerprint: 'fp' });
  store.put(key('doc-1'), adapter(1), { modelFingerprint: 'fp', trainingConfig: { steps: 3 } });
  store.put(key('doc-2'), adapter(2), { modelFingerprint: 'fp' });
  store.put(key('doc-1', 'popqa'), adapter(3), { modelFingerprint: 'fp' });
  store.close();
}

describe('rg adapter', () => {
  it('list / show / verify / delete (unlearn) on a store', async () => {
    const dir = join(root, 'a');
    seed(dir);
    const list = await runCli(['adapter', 'list', '--store', dir, '--json']);
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout);
    expect(listed.count).toBe(4);
    expect(listed.adapters.map((e: { relPath: string }) => e.relPath)).toContain('tiny/rank=2_alpha=4/pubmedqa/lr=0.0001_epoch=1/doc-1');
    expect(JSON.parse((await runCli(['adapter', 'list', '--store', dir, '--dataset', 'popqa', '--json'])).stdout).count).toBe(1);

    // doc-1 exists for two datasets: show must be told which.
    const ambiguous = await runCli(['adapter', 'show', 'doc-1', '--store', dir]);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/id "doc-1" matches 2 adapters .*narrow it with/);
    const show = await runCli(['adapter', 'show', 'doc-1', '--dataset', 'pubmedqa', '--store', dir, '--json']);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({
      trainingConfig: { steps: 3 },
      modelFingerprint: 'fp',
      tensors: { modules: 2, layers: 2, scale: 2 },
    });
    expect(JSON.parse((await runCli(['adapter', 'show', '--base', '--store', dir, '--json'])).stdout).relPath).toBe(
      'tiny/rank=2_alpha=4/base_weight',
    );

    const ok = await runCli(['adapter', 'verify', '--store', dir, '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ checked: 4, failed: 0 });
    const fileOf = (id: string) => join(dir, 'tiny/rank=2_alpha=4/pubmedqa/lr=0.0001_epoch=1', id, 'adapter_model.safetensors');
    const bytes = readFileSync(fileOf('doc-2'));
    bytes[bytes.length - 3] ^= 0xff;
    writeFileSync(fileOf('doc-2'), bytes);
    const bad = await runCli(['adapter', 'verify', '--store', dir]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAIL\t.*doc-2\thash_mismatch\tadapter "doc-2" .*adapter_model.safetensors has sha256/);
    expect(bad.stderr).toMatch(/1 of 4 adapters failed verification/);
    const wrongModel = await runCli([
      'adapter',
      'verify',
      'doc-2',
      '--dataset',
      'pubmedqa',
      '--store',
      dir,
      '--fingerprint',
      'other',
      '--json',
    ]);
    expect(JSON.parse(wrongModel.stdout).results[0]).toMatchObject({ ok: false, problem: 'wrong_model' });

    const del = await runCli(['adapter', 'delete', 'doc-1', '--dataset', 'pubmedqa', '--store', dir]);
    expect(del.code).toBe(0);
    expect(existsSync(fileOf('doc-1'))).toBe(false);
    expect(JSON.parse((await runCli(['adapter', 'list', '--store', dir, '--id', 'doc-1', '--json'])).stdout).count).toBe(1);
    const missing = await runCli(['adapter', 'show', 'doc-9', '--store', dir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no adapter with id "doc-9"/);
    const all = await runCli(['adapter', 'delete', '--all', '--store', dir]);
    expect(all.code).toBe(2);
  });

  it('export writes a PEFT folder that import (into another store) restores with its key', async () => {
    const dir = join(root, 'b');
    seed(dir);
    const out = join(root, 'exported');
    const exp = await runCli(['adapter', 'export', 'doc-2', '--store', dir, '--out', out]);
    expect(exp.code).toBe(0);
    expect(readPeftAdapter(out).modules.get('1.q_proj')!.b).toEqual(adapter(2).modules.get('1.q_proj')!.b);
    const other = join(root, 'c');
    const imp = await runCli(['adapter', 'import', out, '--store', other, '--json']);
    expect(imp.code).toBe(0);
    expect(JSON.parse(imp.stdout)).toMatchObject({ key: key('doc-2'), modelFingerprint: 'fp' });
    const renamed = await runCli([
      '--model',
      'tiny2',
      'adapter',
      'import',
      out,
      '--store',
      other,
      '--id',
      'doc-x',
      '--dtype',
      'fp16',
      '--json',
    ]);
    expect(JSON.parse(renamed.stdout)).toMatchObject({ key: { model: 'tiny2', id: 'doc-x' }, dtype: 'fp16' });
    const noFp = await runCli(['adapter', 'import', join(dir, 'tiny/rank=2_alpha=4/base_weight'), '--store', other, '--id', 'z']);
    expect(noFp.code).toBe(1);
    expect(noFp.stderr).toMatch(/no model given/);
  });
});
