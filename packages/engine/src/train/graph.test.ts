import { describe, expect, it } from 'vitest';
import { LORA_TARGETS, type LoraTarget, targetShape } from '../model/config.js';
import { referenceForward } from '../reference/llama.js';
import { randoms } from './gradcheck.js';
import { type LoraParams, type TrainingBatch, TrainingSession } from './session.js';
import { randomLlamaWeights, tinyLlamaConfig } from './tiny-model.js';

const config = tinyLlamaConfig();
const weights = randomLlamaWeights(config, 7);

function randomLora(targets: readonly LoraTarget[], layers: number[], rank: number, seed: number): Map<string, LoraParams> {
  const params = new Map<string, LoraParams>();
  let s = seed;
  for (const l of layers) {
    for (const t of targets) {
      const { inFeatures, outFeatures } = targetShape(config, t);
      // float32-representable values, so the float32 LoRA type of the reference holds them exactly.
      const f32 = (n: number) => Float64Array.from(Float32Array.from(randoms(n, s++, 0.5)));
      params.set(`${l}.${t}`, { a: f32(rank * inFeatures), b: f32(outFeatures * rank) });
    }
  }
  return params;
}

// Two right-padded rows: the prompt (first tokens) and the padding are masked out of the loss.
const batch: TrainingBatch = {
  batch: 2,
  seq: 6,
  inputIds: [1, 5, 9, 14, 3, 2, 1, 7, 30, 2, 0, 0],
  attentionMask: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
  labels: [-100, -100, 9, 14, 3, 2, -100, 7, 30, 2, -100, -100],
};

async function finiteDifferences(session: TrainingSession, b: TrainingBatch, params: Map<string, LoraParams>, scale: number) {
  const eps = 1e-6;
  const worst = { relErr: 0, key: '' };
  const analytic = await session.step(b, params, scale);
  for (const [key, p] of params) {
    for (const m of ['a', 'b'] as const) {
      const x = p[m];
      const got = analytic.grads.get(key)?.[m] as Float64Array;
      let maxDiff = 0;
      let maxRef = 0;
      for (let i = 0; i < x.length; i++) {
        const v = x[i];
        x[i] = v + eps;
        const up = (await session.step(b, params, scale)).loss;
        x[i] = v - eps;
        const down = (await session.step(b, params, scale)).loss;
        x[i] = v;
        const numeric = (up - down) / (2 * eps);
        maxDiff = Math.max(maxDiff, Math.abs(got[i] - numeric));
        maxRef = Math.max(maxRef, Math.abs(numeric));
      }
      expect(maxRef, `${key}.${m} gradient is non-trivial`).toBeGreaterThan(1e-5);
      const rel = maxDiff / maxRef;
      if (rel > worst.relErr) Object.assign(worst, { relErr: rel, key: `${key}.${m}` });
    }
  }
  return worst;
}

describe('training graph on a tiny random Llama (float64)', () => {
  it('LoRA gradients on all seven targets match finite differences, with padding', async () => {
    const session = await TrainingSession.create(config, weights, { targets: LORA_TARGETS, dtype: 'float64' });
    const worst = await finiteDifferences(session, batch, randomLora(LORA_TARGETS, [0, 1], 2, 50), 16 / 2);
    expect(worst.relErr, `worst: ${worst.key}`).toBeLessThan(1e-6);
    await session.release();
  });

  it('MLP-only LoRA on the top layer (pruned backward) matches finite differences', async () => {
    const targets: LoraTarget[] = ['gate_proj', 'up_proj', 'down_proj'];
    const session = await TrainingSession.create(config, weights, { targets, layers: [1], dtype: 'float64' });
    const worst = await finiteDifferences(session, batch, randomLora(targets, [1], 3, 80), 2);
    expect(worst.relErr, `worst: ${worst.key}`).toBeLessThan(1e-6);
    await session.release();
  });

  it('gradient checkpointing gives the loss and gradients of the graph that keeps every activation', async () => {
    for (const [targets, layers] of [
      [LORA_TARGETS, [0, 1]],
      [['gate_proj', 'up_proj', 'down_proj'], [1]],
    ] as const) {
      const params = randomLora(targets, [...layers], 2, 60);
      const plain = await TrainingSession.create(config, weights, { targets, layers, dtype: 'float64' });
      const kept = await plain.step(batch, params, 8);
      await plain.release();
      const session = await TrainingSession.create(config, weights, { targets, layers, dtype: 'float64', checkpoint: true });
      expect(session.graph.checkpoint).toBe(true);
      const recomputed = await session.step(batch, params, 8);
      await session.release();
      expect(recomputed.loss).toBe(kept.loss);
      expect([...recomputed.grads.keys()]).toEqual([...kept.grads.keys()]);
      for (const [key, g] of kept.grads) {
        const r = recomputed.grads.get(key) as LoraParams;
        for (let i = 0; i < g.a.length; i++) expect(r.a[i], `${key}.a[${i}]`).toBeCloseTo(g.a[i], 13);
        for (let i = 0; i < g.b.length; i++) expect(r.b[i], `${key}.b[${i}]`).toBeCloseTo(g.b[i], 13);
      }
    }
  });

  it('padding changes nothing: a padded row gives the loss and gradients of the bare row', async () => {
    const session = await TrainingSession.create(config, weights, { targets: ['q_proj', 'v_proj', 'down_proj'], dtype: 'float64' });
    const params = randomLora(['q_proj', 'v_proj', 'down_proj'], [0, 1], 2, 90);
    const bare = await session.step(
      { batch: 1, seq: 4, inputIds: [1, 7, 30, 2], attentionMask: [1, 1, 1, 1], labels: [-100, 7, 30, 2] },
      params,
      4,
    );
    const padded = await session.step(
      {
        batch: 1,
        seq: 7,
        inputIds: [1, 7, 30, 2, 0, 0, 0],
        attentionMask: [1, 1, 1, 1, 0, 0, 0],
        labels: [-100, 7, 30, 2, -100, -100, -100],
      },
      params,
      4,
    );
    expect(padded.loss).toBeCloseTo(bare.loss, 12);
    for (const [key, g] of bare.grads) {
      const p = padded.grads.get(key) as LoraParams;
      for (let i = 0; i < g.a.length; i++) expect(p.a[i]).toBeCloseTo(g.a[i], 12);
      for (let i = 0; i < g.b.length; i++) expect(p.b[i]).toBeCloseTo(g.b[i], 12);
    }
    // A batch's loss is the mean over all its scored tokens, not the mean of the rows' means.
    const row1 = await session.step(
      { batch: 1, seq: 6, inputIds: [1, 5, 9, 14, 3, 2], attentionMask: [1, 1, 1, 1, 1, 1], labels: [-100, -100, 9, 14, 3, 2] },
      params,
      4,
    );
    const both = await session.step(batch, params, 4);
    expect(both.loss).toBeCloseTo((4 * row1.loss + 3 * bare.loss) / 7, 12);
    await session.release();
  });

  it('forward loss equals the independent float64 reference forward (engine/reference) + cross-entropy', async () => {
    const targets: LoraTarget[] = ['q_proj', 'o_proj', 'up_proj'];
    const params = randomLora(targets, [0, 1], 2, 120);
    const scale = 4;
    const session = await TrainingSession.create(config, weights, { targets, dtype: 'float64' });
    const ids = [1, 5, 9, 14, 3, 2];
    const labels = [-100, -100, 9, 14, 3, 2];
    const { loss } = await session.step({ batch: 1, seq: 6, inputIds: ids, attentionMask: ids.map(() => 1), labels }, params, scale);
    const modules = new Map(
      [...params].map(([key, p]) => {
        const { inFeatures, outFeatures } = targetShape(config, key.split('.')[1] as LoraTarget);
        return [key, { rank: 2, inFeatures, outFeatures, a: Float32Array.from(p.a), b: Float32Array.from(p.b, (v) => v * scale) }];
      }),
    );
    const logits = referenceForward(config, weights, ids, { rank: 2, targets, modules });
    let sum = 0;
    for (let t = 1; t < ids.length; t++) {
      if (labels[t] === -100) continue;
      const row = logits[t - 1];
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
      sum += lse - row[labels[t]];
    }
    // Agreement to ~1e-10: the two sides round the rotary frequencies differently.
    expect(loss).toBeCloseTo(sum / 4, 8);
    await session.release();
  });
});
