import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore, type BaseWeightKey } from '@rg/adapter-store';
import { loadModel, modelFingerprint } from '@rg/engine';
import { writeTinyModel } from '@rg/engine/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeDocuments } from './encode.js';
import { DEFAULT_TARGETS } from './init.js';
import { BaseWeightMismatchError, NoChatTemplateError, openTrainingRun } from './training-run.js';

const dir = mkdtempSync(join(tmpdir(), 'rg-training-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const options = { rank: 2, alpha: 32, targets: DEFAULT_TARGETS, seed: 3, dataset: 'toy', lr: 1e-3, epochs: 1 };

describe('openTrainingRun', () => {
  it('initialises and stores the base_weight once, then reuses it; scope and fingerprint name the model', async () => {
    const model = await loadModel(writeTinyModel(join(dir, 'tiny-llama')));
    const store = AdapterStore.open(join(dir, 'adapters'));
    try {
      const inits: BaseWeightKey[] = [];
      const first = await openTrainingRun(model, store, { ...options, onInitBaseWeight: (key) => inits.push(key) });
      expect(inits).toEqual([{ model: 'tiny-llama', rank: 2, alpha: 32 }]);
      expect(first.context.scope).toEqual({ model: 'tiny-llama', rank: 2, alpha: 32, dataset: 'toy', lr: 1e-3, epochs: 1 });
      expect(first.context.modelFingerprint).toBe(modelFingerprint(model.config, model.source));
      expect(store.get(inits[0])?.trainingConfig).toMatchObject({ init: 'peft-kaiming-uniform', seed: 3 });
      // The context trains and stores an adapter as it is.
      const record = { passageId: 'a', passage: 'Ada met Bo.', rewrite: null, qa: [{ question: 'Who met Bo?', answer: 'Ada' }] };
      const [outcome] = await encodeDocuments([record], first.context, { mode: 'lora', lr: 1e-3, epochs: 1, batchSize: 1 });
      expect(outcome.status).toBe('trained');
      expect(store.get({ ...first.context.scope, id: 'a' })).toBeDefined();
      await first.close();

      // Another seed does not matter once one is stored: every adapter of the model starts from the same base_weight.
      const again = await openTrainingRun(model, store, { ...options, seed: 9, onInitBaseWeight: (key) => inits.push(key) });
      expect(inits).toHaveLength(1);
      expect(again.context.base.modules.get('0.up_proj')?.a).toEqual(first.context.base.modules.get('0.up_proj')?.a);
      await again.close();

      const other = openTrainingRun(model, store, { ...options, targets: ['down_proj'] });
      await expect(other).rejects.toThrow(BaseWeightMismatchError);
      await expect(other).rejects.toThrow('targets down_proj: the stored base_weight targets down_proj,gate_proj,up_proj');
    } finally {
      store.close();
    }
  }, 60_000);

  it('refuses a model without a chat template, which the recipe needs', async () => {
    const folder = writeTinyModel(join(dir, 'no-template'));
    const configFile = join(folder, 'tokenizer_config.json');
    const { chat_template: _, ...rest } = JSON.parse(readFileSync(configFile, 'utf8'));
    writeFileSync(configFile, JSON.stringify(rest));
    const store = AdapterStore.open(join(dir, 'adapters-2'));
    try {
      await expect(openTrainingRun(await loadModel(folder), store, options)).rejects.toThrow(NoChatTemplateError);
    } finally {
      store.close();
    }
  });
});
