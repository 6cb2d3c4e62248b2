import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyModel } from '@rg/engine/testing';
import { type LoraAdapter, type LoraPair, writePeftAdapter } from '@rg/lora';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextRoom, openPromptSession, PromptInputError } from './prompt-session.js';

const root = mkdtempSync(join(tmpdir(), 'rg-pipeline-prompt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let model: string;
const home = join(root, 'home');

beforeAll(() => {
  model = writeTinyModel(join(root, 'tiny'));
});

/** A q_proj adapter on both layers of the tiny model (hidden 16), `hidden` wide, A[3] set to `fill` when given. */
function adapterDir(name: string, hidden = 16, fill?: number): string {
  const modules = new Map<string, LoraPair>();
  for (let layer = 0; layer < 2; layer++) {
    const a = Float32Array.from({ length: 2 * hidden }, (_, i) => Math.sin(i + layer));
    const b = Float32Array.from({ length: hidden * 2 }, (_, i) => Math.cos(i - layer));
    if (fill !== undefined) a[3] = fill;
    modules.set(`${layer}.q_proj`, { inFeatures: hidden, outFeatures: hidden, a, b });
  }
  const adapter: LoraAdapter = {
    config: { rank: 2, alpha: 4, targetModules: ['q_proj'], baseModel: 'another/model', useRslora: false, dropout: 0 },
    modules,
  };
  const dir = join(root, name);
  writePeftAdapter(dir, adapter);
  return dir;
}

async function lastLogits(adapterDirs: string[]): Promise<Float32Array> {
  const session = await openPromptSession({ model, home, threads: 1, adapterDirs, prompt: { ids: [5, 6, 7] } });
  try {
    expect(session.promptIds).toEqual([5, 6, 7]);
    const { logits, cache } = await session.lm.forward({ ids: session.promptIds, adapters: session.adapters });
    session.lm.release(cache);
    return logits;
  } finally {
    await session.dispose();
  }
}

describe('openPromptSession (a model, PEFT adapter folders and a prompt, without the CLI)', () => {
  it('applies the folders: logits move with one adapter and move further with it twice (concatenated along rank)', async () => {
    const dir = adapterDir('good');
    const warnings: string[] = [];
    const base = await lastLogits([]);
    const once = await lastLogits([dir]);
    const twice = await lastLogits([dir, dir]);
    const dist = (x: Float32Array, y: Float32Array) => Math.hypot(...x.map((v, i) => v - y[i]));
    expect(dist(base, once)).toBeGreaterThan(1e-4);
    expect(dist(base, twice)).toBeGreaterThan(dist(base, once));
    const s = await openPromptSession({ model, home, adapterDirs: [dir], prompt: { text: 'ab' }, onWarning: (w) => warnings.push(w) });
    await s.dispose();
    expect(warnings.join('\n')).toContain('another/model');
  });

  it('names the field and the folder of what it cannot use', async () => {
    const nan = adapterDir('nan', 16, Number.NaN);
    const wide = adapterDir('wide', 24);
    const fail = (options: Partial<Parameters<typeof openPromptSession>[0]>) =>
      openPromptSession({ model, home, prompt: { ids: [1] }, ...options }).then(
        () => null,
        (e: unknown) => e,
      );
    const bad = await fail({ adapterDirs: [nan] });
    expect(bad).toBeInstanceOf(PromptInputError);
    expect(bad).toMatchObject({ field: 'adapter' });
    expect(String(bad)).toContain(`${nan}: layer 0 q_proj lora_A holds NaN at index 3 of 32`);
    expect(await fail({ adapterDirs: [wide] })).toMatchObject({ field: 'adapter', reason: expect.stringContaining(wide) });
    expect(await fail({ prompt: { ids: [1, 1_000_000] } })).toMatchObject({ field: 'ids' });
    expect(await fail({ prompt: { text: '' } })).toMatchObject({ field: 'prompt' });
  });

  it('contextRoom caps new tokens at what the context holds after the prompt', () => {
    expect(contextRoom(8, 10, 24)).toEqual({ tokens: 8, capped: false });
    expect(contextRoom(100, 10, 24)).toEqual({ tokens: 14, capped: true });
    expect(() => contextRoom(1, 24, 24)).toThrow(/holds 24: shorten it/);
  });
});
