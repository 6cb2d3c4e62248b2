import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LoraAdapter, type LoraPair, writePeftAdapter } from '@rg/lora';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';

// Issue 17 on `rg generate`: --temperature 0, --max-new-tokens past the context, NaN or misfit --adapter folders.
const root = mkdtempSync(join(tmpdir(), 'rg-cli-generate-faults-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let model: string;
const CONTEXT = 24;

beforeAll(() => {
  model = writeTinyModel(join(root, 'tiny'));
  // A short context so that capping is visible without generating thousands of tokens.
  const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
  writeFileSync(join(model, 'config.json'), JSON.stringify({ ...config, max_position_embeddings: CONTEXT }));
});

/** q_proj LoRA on both layers of the tiny model (hidden 16, q = 4 heads x 4), `hidden` wide. */
function adapterDir(name: string, hidden = 16, fill?: number): string {
  const modules = new Map<string, LoraPair>();
  for (let layer = 0; layer < 2; layer++) {
    const a = Float32Array.from({ length: 2 * hidden }, (_, i) => Math.sin(i + layer) * 0.1);
    const b = Float32Array.from({ length: hidden * 2 }, (_, i) => Math.cos(i - layer) * 0.1);
    if (fill !== undefined) a[3] = fill;
    modules.set(`${layer}.q_proj`, { inFeatures: hidden, outFeatures: hidden, a, b });
  }
  const adapter: LoraAdapter = {
    config: { rank: 2, alpha: 4, targetModules: ['q_proj'], baseModel: null, useRslora: false, dropout: 0 },
    modules,
  };
  const dir = join(root, name);
  writePeftAdapter(dir, adapter);
  return dir;
}

const gen = (...args: string[]) => runCli(['--model', model, '--threads', '1', 'generate', '--ids', '5,6,7', '--json', ...args]);

describe('fault: rg generate', () => {
  it('--temperature 0 means greedy: the same tokens as no temperature', async () => {
    const greedy = await gen('--max-new-tokens', '4');
    const zero = await gen('--max-new-tokens', '4', '--temperature', '0', '--seed', '9');
    expect(zero.stderr).toBe('');
    expect(zero.code).toBe(0);
    expect(JSON.parse(zero.stdout).generatedIds).toEqual(JSON.parse(greedy.stdout).generatedIds);
    const negative = await gen('--temperature', '-1');
    expect(negative.code).toBe(2);
    expect(negative.stderr).toMatch(/expected a number >= 0/);
  });

  it('--max-new-tokens past the context is capped with a note', async () => {
    const r = await gen('--max-new-tokens', '1000000000');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`--max-new-tokens 1000000000 capped at ${CONTEXT - 3} (context ${CONTEXT} tokens, prompt 3)`);
    expect(JSON.parse(r.stdout).generatedIds.length).toBeLessThanOrEqual(CONTEXT - 3);
  });

  it('--adapter with NaN weights, or shaped for another model, is a usage error naming the folder and module', async () => {
    const nan = adapterDir('nan', 16, Number.NaN);
    const r = await gen('--adapter', nan);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--adapter ${nan}: layer 0 q_proj lora_A holds NaN at index 3 of 32`);
    const good = adapterDir('good');
    const wide = adapterDir('wide', 24);
    const misfit = await gen('--adapter', good, '--adapter', wide);
    expect(misfit.code).toBe(2);
    expect(misfit.stderr).toContain(`--adapter ${wide}: layer 0 q_proj maps 24 -> 24 features, the model's q_proj maps 16 -> 16`);
    expect((await gen('--adapter', good, '--max-new-tokens', '2')).code).toBe(0);
  });
});
