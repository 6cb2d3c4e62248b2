import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, loadModelConfig, resolveModel } from './load.js';
import { ensureModel, knownModelPath } from './pull.js';

const root = mkdtempSync(join(tmpdir(), 'rg-load-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('loadModel', () => {
  it('loads the default model by name (pulled on first use): config, weights, tokenizer, chat template', async () => {
    const path = await ensureModel();
    const m = await loadModel('smollm2-135m-instruct', { pull: true });
    expect(m.source).toEqual({ kind: 'gguf', path, name: 'smollm2-135m-instruct' });
    expect(m.config.numLayers).toBe(30);
    expect(m.weights.get('model.embed_tokens.weight')!.dims).toEqual([49152, 576]);
    expect(m.chatTemplate).not.toBeNull();
    expect(m.tokenizer.encodeChat([{ role: 'user', content: 'Hi' }]).slice(-4)).toEqual(m.tokenizer.encode('<|im_start|>assistant\n'));
    // The same file by path gives the same config.
    expect((await loadModelConfig(path)).config).toEqual(m.config);
  });

  it('refuses a damaged copy of a known model at load, naming the file and the repair', async () => {
    const home = mkdtempSync(join(root, 'home-'));
    const path = knownModelPath('smollm2-135m-instruct', home);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, 'not the model');
    await expect(loadModelConfig('smollm2-135m-instruct', { home })).rejects.toThrow(
      /13 bytes does not match smollm2-135m-instruct .*run `rg model pull smollm2-135m-instruct`/,
    );
  });

  it('says how to pull a known model that is not there', async () => {
    const home = mkdtempSync(join(root, 'home-'));
    await expect(resolveModel('smollm2-135m-instruct', { home })).rejects.toThrow(
      `${knownModelPath('smollm2-135m-instruct', home)}: not pulled yet: run \`rg model pull smollm2-135m-instruct\``,
    );
  });

  it('refuses specs that are neither a known name, a .gguf nor a model folder', async () => {
    const dir = mkdtempSync(join(root, 'spec-'));
    await expect(resolveModel(join(dir, 'nope'))).rejects.toThrow(`${join(dir, 'nope')}: no such file or folder`);
    writeFileSync(join(dir, 'weights.bin'), 'x');
    await expect(resolveModel(join(dir, 'weights.bin'))).rejects.toThrow('not a .gguf file or a model folder');
    mkdirSync(join(dir, 'empty'));
    await expect(resolveModel(join(dir, 'empty'))).rejects.toThrow('folder has no config.json');
  });
});
