import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graph/builder.js';
import { LORA_TARGETS, type LoraTarget, targetShape } from '../model/config.js';
import { crossEntropyBackward, crossEntropyForward } from './cross-entropy.js';
import { distillLossBackward, distillLossForward } from './distill-loss.js';
import { type CheckInput, gradCheck, randoms } from './gradcheck.js';
import { Ops } from './ops.js';
import { type LoraParams, type TeacherBatch, type TrainingBatch, TrainingSession } from './session.js';
import { randomLlamaWeights, tinyLlamaConfig } from './tiny-model.js';

const ints = (v: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), dims);
const floats = (v: number[], dims: number[]) => new ort.Tensor('float64', Float64Array.from(v), dims);

/** Distinct ids per position and probabilities summing to `mass` (1 = no tail). */
function teacher(positions: number, k: number, vocab: number, seed: number, mass: number) {
  const ids: number[] = [];
  const probs: number[] = [];
  const r = randoms(positions * (k + vocab), seed);
  for (let p = 0; p < positions; p++) {
    const order = Array.from({ length: vocab }, (_, v) => v).sort((a, b) => r[p * vocab + a] - r[p * vocab + b]);
    const raw = Array.from({ length: k }, (_, j) => Math.exp(2 * r[positions * vocab + p * k + j]));
    const total = raw.reduce((a, b) => a + b, 0);
    ids.push(...order.slice(0, k));
    probs.push(...raw.map((v) => (v / total) * mass));
  }
  return { ids, probs };
}

describe('distillation loss: gradient rule vs float64 finite differences', () => {
  const [B, S, K, V, H] = [2, 3, 3, 11, 5];
  const checked = (name: string, dims: number[], seed: number, check = true): CheckInput => ({
    name,
    dims,
    data: randoms(
      dims.reduce((a, b) => a * b, 1),
      seed,
    ),
    check,
  });

  async function check(labels: number[], mask: number[], mass: number, weight: number) {
    const t = teacher(B * S, K, V, 5, mass);
    return gradCheck(
      [checked('h', [B * S, H], 1), checked('head', [V, H], 2, false)],
      (o, n) => {
        const { loss, saved } = distillLossForward(o, n.h, n.labels, n.ids, n.probs, n.mask, n.head, n.weight);
        return { loss, grads: { h: distillLossBackward(o, saved) } };
      },
      {
        labels: ints(labels, [B, S]),
        ids: ints(t.ids, [B, S, K]),
        probs: floats(t.probs, [B, S, K]),
        mask: ints(mask, [B, S]),
        weight: floats([weight], []),
      },
    );
  }

  it('KL only (no labels), with a teacher tail of 0.3 and a masked position', async () => {
    const [r] = await check([-100, -100, -100, -100, -100, -100], [0, 1, 1, 0, 1, 0], 0.7, 1);
    expect(r.maxAbs).toBeGreaterThan(1e-3);
    expect(r.relErr).toBeLessThan(1e-7);
  });

  it('KL with renormalised targets (no tail) plus CE on other positions, weighted', async () => {
    const [r] = await check([-100, 3, -100, -100, 10, 7], [0, 1, 1, 0, 0, 1], 1, 0.4);
    expect(r.maxAbs).toBeGreaterThan(1e-3);
    expect(r.relErr).toBeLessThan(1e-7);
  });

  it('is KL(teacher ‖ student) on the top-k + tail bins: equals a direct float64 evaluation, and 0 at the student itself', async () => {
    const t = teacher(B * S, K, V, 6, 0.6);
    const h = randoms(B * S * H, 21);
    const head = randoms(V * H, 22);
    const mask = [1, 1, 0, 0, 1, 1];
    const logits = Array.from({ length: B * S }, (_, r) =>
      Array.from({ length: V }, (_, v) => {
        let z = 0;
        for (let i = 0; i < H; i++) z += h[r * H + i] * head[v * H + i];
        return z;
      }),
    );
    const softmax = (z: number[]) => {
      const max = Math.max(...z);
      const e = z.map((x) => Math.exp(x - max));
      const sum = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / sum);
    };
    // Position t is scored from row t − 1 (labels' convention): row r of the batch row-major pairs with entry r + 1.
    const pairs: Array<[number, number]> = [];
    for (let b = 0; b < B; b++) for (let s = 1; s < S; s++) if (mask[b * S + s]) pairs.push([b * S + s - 1, b * S + s]);
    let expected = 0;
    for (const [row, at] of pairs) {
      const q = softmax(logits[row]);
      const ids = t.ids.slice(at * K, (at + 1) * K);
      const p = t.probs.slice(at * K, (at + 1) * K);
      const tail = 1 - p.reduce((a, b) => a + b, 0);
      const qTail = 1 - ids.reduce((a, id) => a + q[id], 0);
      expected += p.reduce((a, pk, j) => a + pk * (Math.log(pk) - Math.log(q[ids[j]])), 0) + tail * (Math.log(tail) - Math.log(qTail));
    }
    expected /= pairs.length;
    const atStudent = t.probs.slice();
    for (const [row, at] of pairs) {
      const q = softmax(logits[row]);
      for (let j = 0; j < K; j++) atStudent[at * K + j] = q[t.ids[at * K + j]];
    }
    const g = new GraphBuilder('kl');
    const o = new Ops(g, 'float64');
    for (const [name, type, dims] of [
      ['h', 'float64', [B * S, H]],
      ['head', 'float64', [V, H]],
      ['labels', 'int64', [B, S]],
      ['ids', 'int64', [B, S, K]],
      ['probs', 'float64', [B, S, K]],
      ['mask', 'int64', [B, S]],
      ['weight', 'float64', []],
    ] as const)
      g.input(name, type, [...dims]);
    const d = distillLossForward(o, 'h', 'labels', 'ids', 'probs', 'mask', 'head', 'weight');
    g.outputAs(d.loss, 'loss', 'float64', []);
    g.outputAs(d.kl, 'kl', 'float64', []);
    const session = await ort.InferenceSession.create(g.toBytes());
    const run = async (probs: number[]) =>
      session.run({
        h: floats(Array.from(h), [B * S, H]),
        head: floats(Array.from(head), [V, H]),
        labels: ints(new Array(B * S).fill(-100), [B, S]),
        ids: ints(t.ids, [B, S, K]),
        probs: floats(probs, [B, S, K]),
        mask: ints(mask, [B, S]),
        weight: floats([2], []),
      });
    const out = await run(t.probs);
    expect(expected).toBeGreaterThan(0.05);
    expect(out.kl.data[0] as number).toBeCloseTo(expected, 12);
    expect(out.loss.data[0] as number).toBeCloseTo(2 * expected, 12);
    expect(Math.abs((await run(atStudent)).kl.data[0] as number)).toBeLessThan(1e-12);
    await session.release();
  });
});

describe('distillation through the whole training graph (tiny random Llama, float64)', () => {
  const config = tinyLlamaConfig();
  const weights = randomLlamaWeights(config, 7);
  const K = 4;

  function randomLora(targets: readonly LoraTarget[], layers: number[], rank: number, seed: number): Map<string, LoraParams> {
    const params = new Map<string, LoraParams>();
    let s = seed;
    for (const l of layers) {
      for (const t of targets) {
        const { inFeatures, outFeatures } = targetShape(config, t);
        params.set(`${l}.${t}`, { a: randoms(rank * inFeatures, s++, 0.5), b: randoms(outFeatures * rank, s++, 0.5) });
      }
    }
    return params;
  }

  // Row 0 distils its last three tokens; row 1 is padded and distils two, one of which also has a label.
  const t = teacher(12, K, config.vocabSize, 9, 0.8);
  const teacherBatch = (weight: number): TeacherBatch => ({
    k: K,
    ids: t.ids,
    probs: t.probs,
    mask: [0, 0, 0, 1, 1, 1, 0, 1, 1, 0, 0, 0],
    weight,
  });
  const batch = (labels: number[], weight: number): TrainingBatch => ({
    batch: 2,
    seq: 6,
    inputIds: [1, 5, 9, 14, 3, 2, 1, 7, 30, 2, 0, 0],
    attentionMask: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
    labels,
    teacher: teacherBatch(weight),
  });

  it('LoRA gradients on all seven targets match finite differences (KL + 0.5·CE)', async () => {
    const session = await TrainingSession.create(config, weights, { targets: LORA_TARGETS, dtype: 'float64', distill: true });
    const b = batch([-100, -100, -100, -100, -100, -100, -100, -100, 30, 2, -100, -100], 0.5);
    const params = randomLora(LORA_TARGETS, [0, 1], 2, 300);
    const eps = 1e-6;
    const analytic = await session.step(b, params, 4);
    expect(analytic.distillKl).toBeGreaterThan(0);
    let worst = 0;
    for (const [key, p] of params) {
      for (const m of ['a', 'b'] as const) {
        const x = p[m];
        const got = analytic.grads.get(key)?.[m] as Float64Array;
        let maxDiff = 0;
        let maxRef = 0;
        for (let i = 0; i < x.length; i++) {
          const v = x[i];
          x[i] = v + eps;
          const up = (await session.step(b, params, 4)).loss;
          x[i] = v - eps;
          const down = (await session.step(b, params, 4)).loss;
          x[i] = v;
          const numeric = (up - down) / (2 * eps);
          maxDiff = Math.max(maxDiff, Math.abs(got[i] - numeric));
          maxRef = Math.max(maxRef, Math.abs(numeric));
        }
        expect(maxRef, `${key}.${m} gradient is non-trivial`).toBeGreaterThan(1e-5);
        worst = Math.max(worst, maxDiff / maxRef);
      }
    }
    console.log(JSON.stringify({ distillGraphWorstRelErr: worst }));
    expect(worst).toBeLessThan(1e-6);
    await session.release();
  }, 300_000);

  it('with no teacher positions it is the plain LM loss and gradient; with no labels, loss = λ·KL', async () => {
    const targets: LoraTarget[] = ['q_proj', 'down_proj'];
    const params = randomLora(targets, [0, 1], 2, 400);
    const labels = [-100, -100, 9, 14, 3, 2, -100, 7, 30, 2, -100, -100];
    const plain = await TrainingSession.create(config, weights, { targets, dtype: 'float64' });
    const distil = await TrainingSession.create(config, weights, { targets, dtype: 'float64', distill: true });
    const lm = await plain.step({ ...batch(labels, 1), teacher: undefined }, params, 4);
    const none = await distil.step({ ...batch(labels, 1), teacher: { ...teacherBatch(1), mask: new Array(12).fill(0) } }, params, 4);
    expect(none.loss).toBeCloseTo(lm.loss, 12);
    expect(none.distillKl).toBe(0);
    for (const [key, g] of lm.grads) {
      const d = none.grads.get(key) as LoraParams;
      for (let i = 0; i < g.a.length; i++) expect(d.a[i]).toBeCloseTo(g.a[i], 12);
      for (let i = 0; i < g.b.length; i++) expect(d.b[i]).toBeCloseTo(g.b[i], 12);
    }
    const kl = await distil.step(batch(new Array(12).fill(-100), 0.25), params, 4);
    expect(kl.loss).toBeCloseTo(0.25 * (kl.distillKl as number), 12);
    await plain.release();
    await distil.release();
  });

  it('refuses a batch without teacher targets, naming the field', async () => {
    const session = await TrainingSession.create(config, weights, { targets: ['down_proj'], dtype: 'float64', distill: true });
    const params = randomLora(['down_proj'], [0, 1], 2, 500);
    await expect(session.step({ ...batch(new Array(12).fill(-100), 1), teacher: undefined }, params, 4)).rejects.toThrow(/teacher targets/);
    await expect(
      session.step({ ...batch(new Array(12).fill(-100), 1), teacher: { ...teacherBatch(1), probs: [0.5] } }, params, 4),
    ).rejects.toThrow(/teacher\.probs has 1 values, expected 48/);
    await session.release();
  });
});

describe('distillation loss: the CE term is cross-entropy.ts', () => {
  it('with every teacher position masked, loss and dh equal crossEntropyForward / Backward', async () => {
    const labels = ints([-100, 3, 9, -100, 10, -100], [2, 3]);
    const h = randoms(30, 11);
    const head = randoms(55, 12);
    const ce = await gradCheck(
      [
        { name: 'h', dims: [6, 5], data: Float64Array.from(h), check: true },
        { name: 'head', dims: [11, 5], data: Float64Array.from(head), check: false },
      ],
      (o, n) => {
        const c = crossEntropyForward(o, n.h, n.labels, n.head);
        const d = distillLossForward(o, n.h, n.labels, n.ids, n.probs, n.mask, n.head, n.weight);
        // loss = CE − distill: 0 exactly, and so is its gradient.
        return {
          loss: o.add(o.sub(c.loss, d.loss), o.c(1e-3)),
          grads: { h: o.sub(crossEntropyBackward(o, c.saved), distillLossBackward(o, d.saved)) },
        };
      },
      {
        labels,
        ids: ints(new Array(18).fill(1), [2, 3, 3]),
        probs: floats(new Array(18).fill(0.1), [2, 3, 3]),
        mask: ints([0, 0, 0, 0, 0, 0], [2, 3]),
        weight: floats([1], []),
      },
    );
    // Both the finite differences and analytic − finite differences of CE − (distill with no teacher position) are ~0.
    expect(ce[0].maxAbs).toBeLessThan(1e-9);
    expect(ce[0].relErr * Math.max(ce[0].maxAbs, 1e-12)).toBeLessThan(1e-9);
  });
});
