import { readFileSync } from 'node:fs';
import { type LoadedModel, type LoraParams, type LoraTarget, loadModel, TrainingSession } from '@rg/engine';
import { readPeftAdapter, readSafetensors } from '@rg/lora';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainAdapter } from './trainer.js';

// Fixtures from tools/reference/lora_reference.py: PyTorch + PEFT on the same GGUF, fp32.
const fixtures = new URL('../fixtures/', import.meta.url);
const reference = JSON.parse(readFileSync(new URL('lora-reference.json', fixtures), 'utf8')) as {
  ids: number[];
  alpha: number;
  rank: number;
  targets: LoraTarget[];
  loss: number;
  adamw: { lr: number; losses: number[]; finalLoss: number };
};
const init = readPeftAdapter(new URL('init-adapter', fixtures).pathname);
const grads = readSafetensors(new URL('grads.safetensors', fixtures).pathname);
const scale = reference.alpha / reference.rank;
const ids = reference.ids;
const example = { inputIds: ids, labels: ids };

describe('SmolLM2-135M LoRA training vs PyTorch + PEFT', () => {
  let model: LoadedModel;
  let session: TrainingSession;
  beforeAll(async () => {
    model = await loadModel('smollm2-135m-instruct', { pull: true });
    session = await TrainingSession.create(model.config, model.weights, { targets: reference.targets, threads: 2 });
  });
  afterAll(async () => {
    await session?.release();
  });

  it('gradients of every LoRA tensor: cosine > 0.999, relative error < 1e-3', async () => {
    const r = await session.step(
      { batch: 1, seq: ids.length, inputIds: ids, attentionMask: ids.map(() => 1), labels: ids },
      init.modules,
      scale,
    );
    expect(r.loss).toBeCloseTo(reference.loss, 4);
    let checked = 0;
    for (const [key, g] of r.grads) {
      const [layer, target] = key.split('.');
      for (const m of ['A', 'B'] as const) {
        const expected = grads.get(`base_model.model.model.layers.${layer}.mlp.${target}.lora_${m}.weight`)?.data as Float32Array;
        const got = m === 'A' ? g.a : g.b;
        let dot = 0;
        let gotSq = 0;
        let expSq = 0;
        let diffSq = 0;
        for (let i = 0; i < expected.length; i++) {
          dot += got[i] * expected[i];
          gotSq += got[i] ** 2;
          expSq += expected[i] ** 2;
          diffSq += (got[i] - expected[i]) ** 2;
        }
        expect(expSq, `${key}.${m} reference gradient is non-zero`).toBeGreaterThan(0);
        expect(dot / Math.sqrt(gotSq * expSq), `${key}.${m} cosine`).toBeGreaterThan(0.999);
        expect(Math.sqrt(diffSq / expSq), `${key}.${m} relative error`).toBeLessThan(1e-3);
        checked++;
      }
    }
    expect(checked).toBe(30 * 3 * 2);
  });

  it('10 AdamW steps from PEFT init (B = 0) follow torch.optim.AdamW within 1e-3 relative', async () => {
    const start = new Map<string, LoraParams>([...init.modules].map(([k, p]) => [k, { a: p.a, b: new Float32Array(p.b.length) }]));
    const steps = reference.adamw.losses.length;
    const r = await trainAdapter(
      session,
      start,
      Array.from({ length: steps }, () => example),
      { mode: 'lora', scale, lr: reference.adamw.lr, epochs: 1, batchSize: 1 },
    );
    expect(r.optimizerSteps).toBe(steps);
    r.losses.forEach((loss, i) => {
      expect(Math.abs(loss - reference.adamw.losses[i]) / reference.adamw.losses[i], `step ${i + 1}`).toBeLessThan(1e-3);
    });
    const after = await session.step(
      { batch: 1, seq: ids.length, inputIds: ids, attentionMask: ids.map(() => 1), labels: ids },
      r.tensors,
      scale,
    );
    expect(Math.abs(after.loss - reference.adamw.finalLoss) / reference.adamw.finalLoss).toBeLessThan(1e-3);
  }, 600_000);
});
