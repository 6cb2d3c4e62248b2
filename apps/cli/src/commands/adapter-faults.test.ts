import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { type LoraAdapter, type LoraPair, writePeftAdapter } from '@rg/lora';
import { afterAll, describe, expect, it } from 'vitest';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';

// Issue 17 cases 3 and 4 on `rg adapter`: contents checked on import and verify; read-only commands never create stores.
const root = mkdtempSync(join(tmpdir(), 'rg-cli-adapter-faults-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** q_proj LoRA on 2 layers mapping `hidden` -> `hidden` (the tiny test model has hidden 16, q = 4 heads x 4). */
function adapter(hidden: number, fill?: number, baseModel: string | null = null): LoraAdapter {
  const modules = new Map<string, LoraPair>();
  for (let layer = 0; layer < 2; layer++) {
    const a = Float32Array.from({ length: 2 * hidden }, (_, i) => Math.sin(i + layer));
    const b = Float32Array.from({ length: hidden * 2 }, (_, i) => Math.cos(i - layer));
    if (fill !== undefined && layer === 1) b.fill(fill);
    modules.set(`${layer}.q_proj`, { inFeatures: hidden, outFeatures: hidden, a, b });
  }
  return { config: { rank: 2, alpha: 4, targetModules: ['q_proj'], baseModel, useRslora: false, dropout: 0 }, modules };
}

function folder(name: string, a: LoraAdapter): string {
  const dir = join(root, name);
  writePeftAdapter(dir, a);
  return dir;
}

const importArgs = (store: string, id: string, model = 'tiny') => [
  '--model',
  model,
  'adapter',
  'import',
  '--store',
  store,
  '--id',
  id,
  '--dataset',
  'd',
  '--lr',
  '0.001',
  '--epochs',
  '1',
  '--fingerprint',
  'fp',
];

describe('fault: rg adapter', () => {
  it('read-only commands on a mistyped store path exit 2 naming it, and create nothing', async () => {
    const typo = join(root, 'adaptrs');
    for (const args of [['list'], ['verify'], ['show', 'x'], ['delete', 'x'], ['export', 'x', '--out', join(root, 'exp')]]) {
      const r = await runCli(['adapter', ...args, '--store', typo]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(`--store ${typo}: no adapter store here`);
    }
    expect(existsSync(typo)).toBe(false);
  });

  it('import refuses NaN weights naming the folder, adapter and module; nothing is stored', async () => {
    const store = join(root, 's-nan');
    const r = await runCli([...importArgs(store, 'n1'), folder('nan', adapter(16, Number.NaN))]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nan \(adapter "n1" .*\): layer 1 q_proj lora_B holds NaN at index 0 of 32/);
    expect(AdapterStore.open(store).list()).toHaveLength(0);
  });

  it('an adapter shaped for another model is refused by import and failed by verify, with --for-model', async () => {
    const model = writeTinyModel(join(root, 'tiny-model'));
    const store = join(root, 's-shape');
    const wrong = folder('hidden8', adapter(8));
    const refused = await runCli([...importArgs(store, 'w1'), wrong, '--for-model', model]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/adapter "w1" .*layer 0 q_proj maps 8 -> 8 features, the model's q_proj maps 16 -> 16/);
    // Without a model to check against it imports (with a note saying so); verify --for-model then fails it.
    const unchecked = await runCli([...importArgs(store, 'w1'), wrong]);
    expect(unchecked.code).toBe(0);
    expect(unchecked.stderr).toMatch(/note: shapes not checked against model "tiny"/);
    expect((await runCli([...importArgs(store, 'ok1'), folder('hidden16', adapter(16)), '--for-model', model])).code).toBe(0);
    const verify = await runCli(['adapter', 'verify', '--store', store, '--for-model', model]);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/FAIL\t.*w1\twrong_shape\tadapter "w1" .*layer 0 q_proj maps 8 -> 8/);
    expect(verify.stderr).toMatch(/1 of 2 adapters ok/);
    const badModel = await runCli(['adapter', 'verify', '--store', store, '--for-model', join(root, 'no-such-model')]);
    expect(badModel.code).toBe(2);
    expect(badModel.stderr).toMatch(/--for-model: .*no-such-model/);
  });

  it('base_model_name_or_path naming another model is a warning on import and verify', async () => {
    const store = join(root, 's-base');
    const dir = folder('other-base', adapter(16, undefined, 'HuggingFaceTB/SmolLM2-360M-Instruct'));
    // An empty RG_HOME: the known model is not pulled there, so only the names are compared.
    const home = join(root, 'empty-home');
    const r = await runCli(['--home', home, ...importArgs(store, 'b1', 'smollm2-135m-instruct'), dir]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /warning: .*base_model_name_or_path "HuggingFaceTB\/SmolLM2-360M-Instruct", but it is stored for model "smollm2-135m-instruct"/,
    );
    const v = await runCli(['--home', home, 'adapter', 'verify', '--store', store]);
    expect(v.code).toBe(0);
    expect(v.stderr).toMatch(/warning: .*SmolLM2-360M-Instruct/);
  });
});
