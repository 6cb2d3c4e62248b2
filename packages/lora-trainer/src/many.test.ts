import { type LoraParams, type LoraTarget, randomLlamaWeights, TrainingSession, targetShape, tinyLlamaConfig } from '@rg/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainingExample } from './batching.js';
import { type TrainManyOptions, trainMany } from './many.js';
import { trainAdapter } from './trainer.js';

const config = tinyLlamaConfig();
const weights = randomLlamaWeights(config, 5);
const targets: LoraTarget[] = ['q_proj', 'v_proj', 'gate_proj', 'up_proj', 'down_proj'];

// B away from zero, so that dL/dA is not zero at the first step.
function init(): Map<string, LoraParams> {
  const m = new Map<string, LoraParams>();
  let s = 1;
  for (let l = 0; l < config.numLayers; l++) {
    for (const t of targets) {
      const { inFeatures, outFeatures } = targetShape(config, t);
      m.set(`${l}.${t}`, {
        a: Float32Array.from({ length: 2 * inFeatures }, () => Math.sin(s++) * 0.3),
        b: Float32Array.from({ length: outFeatures * 2 }, () => Math.cos(s++) * 0.05),
      });
    }
  }
  return m;
}

/** `count` examples of `length` tokens (or varied lengths when omitted), the first two tokens unscored. */
function document(seed: number, count: number, length?: number): TrainingExample[] {
  return Array.from({ length: count }, (_, e) => {
    const n = length ?? 4 + ((seed * 7 + e * 3) % 6);
    const inputIds = Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 3 + ((seed * 13 + e * 5 + i * i) % 29)));
    return { inputIds, labels: inputIds.map((id, i) => (i < 2 ? -100 : id)) };
  });
}

let single: TrainingSession;
let batched: TrainingSession;
beforeAll(async () => {
  single = await TrainingSession.create(config, weights, { targets });
  batched = await TrainingSession.create(config, weights, { targets, batchedAdapters: true });
});
afterAll(async () => {
  await single.release();
  await batched.release();
});

/**
 * Largest |together - alone| over every document's final tensors, and over its losses relative to the loss
 * (fp32 rounds a loss near log(vocab) to ~2e-7 relative, and the passes' reductions run in another order).
 */
async function compareWithAlone(docs: TrainingExample[][], options: TrainManyOptions, sessions = { single, batched }) {
  const together = await trainMany(sessions.batched, init(), docs, options);
  let tensors = 0;
  let losses = 0;
  let largest = 0;
  let magnitude = 0;
  for (let d = 0; d < docs.length; d++) {
    const alone = await trainAdapter(sessions.single, init(), docs[d], options);
    const outcome = together.documents[d];
    if (outcome.status !== 'trained') throw new Error(`document ${d}: ${outcome.error}`);
    const got = outcome.result;
    expect(got.losses).toHaveLength(alone.losses.length);
    expect(got.optimizerSteps).toBe(alone.optimizerSteps);
    expect(got.tokens).toBe(alone.tokens);
    got.losses.forEach((l, i) => {
      losses = Math.max(losses, Math.abs(l - alone.losses[i]) / Math.abs(alone.losses[i]));
    });
    for (const [key, p] of alone.tensors) {
      const q = got.tensors.get(key) as LoraParams;
      for (const f of ['a', 'b'] as const) {
        for (let i = 0; i < p[f].length; i++) {
          tensors = Math.max(tensors, Math.abs(q[f][i] - p[f][i]));
          largest = Math.max(largest, Math.abs(p[f][i] - (init().get(key) as LoraParams)[f][i]));
          magnitude = Math.max(magnitude, Math.abs(p[f][i]));
        }
      }
    }
  }
  return { together, tensors, losses, largest, magnitude };
}

const lora = { mode: 'lora' as const, scale: 16, lr: 1e-2, seed: 7 };

describe('trainMany: many documents per pass, each trained as if alone', () => {
  it('7 documents with 1-4 examples, 3 per pass, 3 epochs: every adapter equals trainAdapter alone', async () => {
    const counts = [3, 3, 2, 4, 1, 3, 2];
    const docs = counts.map((n, d) => document(d + 1, n));
    const r = await compareWithAlone(docs, { ...lora, epochs: 3, batchSize: 1, docsPerPass: 3 });
    // Training moved the adapters well beyond the tolerance, and every document agrees to fp32 rounding.
    expect(r.largest).toBeGreaterThan(1e-2);
    expect(r.tensors).toBeLessThan(1e-5);
    expect(r.losses).toBeLessThan(1e-5);
    // 3 slots over 3·18 micro-batches: at least 18 passes, fewer than one per micro-batch.
    expect(r.together.passes).toBeGreaterThanOrEqual(18);
    expect(r.together.passes).toBeLessThan(3 * 18);
  });

  it('the same in float64 graphs: the fp32 differences above are rounding, not a difference in the training', async () => {
    const sessions = {
      single: await TrainingSession.create(config, weights, { targets, dtype: 'float64' }),
      batched: await TrainingSession.create(config, weights, { targets, dtype: 'float64', batchedAdapters: true }),
    };
    const docs = [3, 3, 2, 4, 1].map((n, d) => document(d + 1, n));
    const r = await compareWithAlone(docs, { ...lora, epochs: 3, batchSize: 1, docsPerPass: 3 }, sessions);
    expect(r.largest).toBeGreaterThan(1e-2);
    // Measured: identical parameters (float32, as in training) and losses within 4e-16.
    expect(r.tensors).toBeLessThan(1e-9);
    expect(r.losses).toBeLessThan(1e-12);
    await sessions.single.release();
    await sessions.batched.release();
  });

  it('two sequences per micro-batch and gradient accumulation: still trainAdapter alone', async () => {
    const docs = [document(11, 5), document(12, 2), document(13, 3), document(14, 1)];
    const r = await compareWithAlone(docs, { ...lora, epochs: 2, batchSize: 2, gradAccumulation: 2, docsPerPass: 4 });
    expect(r.largest).toBeGreaterThan(1e-2);
    expect(r.tensors).toBeLessThan(1e-5);
    expect(r.losses).toBeLessThan(1e-5);
  });

  it('gradient mode: each document gets its averaged gradient at the init', async () => {
    const docs = [document(21, 3), document(22, 2), document(23, 4)];
    const r = await compareWithAlone(docs, { mode: 'gradient', scale: 16, lr: 1, epochs: 5, batchSize: 2, docsPerPass: 2 });
    expect(r.magnitude).toBeGreaterThan(1e-2);
    expect(r.tensors).toBeLessThan(1e-5 * r.magnitude);
    expect(r.losses).toBeLessThan(1e-5);
  });

  it('documents of equal step count run together and equal lengths pad nothing', async () => {
    // Alternating short and long documents: queued by length, the long ones share passes, then the short ones.
    const docs = [document(31, 2, 4), document(32, 2, 9), document(33, 2, 4), document(34, 2, 9)];
    const r = await trainMany(batched, init(), docs, { ...lora, epochs: 2, batchSize: 1, docsPerPass: 2 });
    expect(r.passes).toBe(8);
    expect(r.tokens).toBe(2 * 2 * 2 * (4 + 9));
    const trained = r.documents.map((d) => (d.status === 'trained' ? d.result.tokens : 0));
    expect(trained.reduce((a, b) => a + b, 0)).toBe(r.tokens);
  });

  it('a document without examples or without answer tokens fails alone; the others are trained as if alone', async () => {
    const noAnswer: TrainingExample = { inputIds: [1, 5, 6], labels: [-100, -100, -100] };
    const docs = [document(41, 2), [], [noAnswer, ...document(42, 1)], document(43, 3)];
    const options = { ...lora, epochs: 2, batchSize: 1, docsPerPass: 4 };
    const r = await trainMany(batched, init(), docs, options);
    expect(r.documents.map((d) => d.status)).toEqual(['trained', 'failed', 'failed', 'trained']);
    expect(r.documents[1]).toMatchObject({ error: 'no training examples' });
    expect(r.documents[2]).toMatchObject({ error: expect.stringMatching(/loss is NaN/) });
    await expect(trainAdapter(single, init(), docs[2], options)).rejects.toThrow(/loss is NaN/);
    for (const d of [0, 3]) {
      const alone = await trainAdapter(single, init(), docs[d], options);
      const outcome = r.documents[d];
      if (outcome.status !== 'trained') throw new Error('expected trained');
      for (const [key, p] of alone.tensors) {
        const q = outcome.result.tensors.get(key) as LoraParams;
        for (let i = 0; i < p.b.length; i++) expect(Math.abs(q.b[i] - p.b[i])).toBeLessThan(1e-5);
      }
    }
  });

  it('refuses a one-adapter session', async () => {
    await expect(trainMany(single, init(), [document(51, 1)], { ...lora, epochs: 1, batchSize: 1, docsPerPass: 2 })).rejects.toThrow(
      /batchedAdapters/,
    );
  });
});
