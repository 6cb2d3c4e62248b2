import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { LORA_TARGETS, type LoraTarget, targetShape } from '../model/config.js';
import { batchedLinearBackward, batchedLinearForward } from './batched-lora.js';
import { type CheckInput, gradCheck, randoms } from './gradcheck.js';
import { groupedCrossEntropyBackward, groupedCrossEntropyForward } from './grouped-cross-entropy.js';
import type { Ops } from './ops.js';
import { type LoraParams, type TrainingBatch, TrainingSession } from './session.js';
import { randomLlamaWeights, tinyLlamaConfig } from './tiny-model.js';

let seed = 300;
function input(name: string, dims: number[], check = true): CheckInput {
  const data = randoms(
    dims.reduce((a, b) => a * b, 1),
    seed++,
  );
  return { name, dims, data, check };
}

const ints = (v: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), dims);

function expectClose(results: Array<{ name: string; relErr: number; maxAbs: number }>) {
  for (const r of results) {
    expect(r.maxAbs, `${r.name} has a non-trivial gradient`).toBeGreaterThan(1e-6);
    expect(r.relErr, `${r.name}: analytic vs finite differences`).toBeLessThan(1e-6);
  }
}

const projected = (o: Ops, y: string, r: string) => o.reduceSum(o.mul(y, r), [], false);

describe('G adapters per batch: gradient rules vs float64 finite differences', () => {
  it('batched LoRA linear: three groups of two rows, each with its own A and B (dx, dA, dB)', async () => {
    const res = await gradCheck(
      [input('x', [6, 5]), input('w', [4, 5], false), input('a', [3, 2, 5]), input('b', [3, 4, 2]), input('r', [6, 4], false)],
      (o, n) => {
        const { y, saved } = batchedLinearForward(o, n.x, n.w, undefined, { a: n.a, b: n.b, scale: o.c(1.7) });
        const d = batchedLinearBackward(o, saved, n.r, true);
        return { loss: projected(o, y, n.r), grads: { x: d.dx ?? '', a: d.dA, b: d.dB } };
      },
    );
    expectClose(res);
  });

  it('grouped cross-entropy: the sum of each group mean, a group of two sequences each', async () => {
    const res = await gradCheck(
      [input('h', [12, 5]), input('head', [11, 5], false)],
      (o, n) => {
        const { loss, saved } = groupedCrossEntropyForward(o, n.h, n.labels, n.head, n.groups);
        return { loss, grads: { h: groupedCrossEntropyBackward(o, saved) } };
      },
      {
        labels: ints([-100, 3, 9, -100, 10, -100, -100, -100, 4, 1, 2, -100], [4, 3]),
        groups: ints([2], [1]),
      },
    );
    expectClose(res);
  });
});

const config = tinyLlamaConfig();
const weights = randomLlamaWeights(config, 11);

function randomLora(targets: readonly LoraTarget[], rank: number, seedAt: number): Map<string, LoraParams> {
  const params = new Map<string, LoraParams>();
  let s = seedAt;
  for (let l = 0; l < config.numLayers; l++) {
    for (const t of targets) {
      const { inFeatures, outFeatures } = targetShape(config, t);
      params.set(`${l}.${t}`, { a: randoms(rank * inFeatures, s++, 0.5), b: randoms(outFeatures * rank, s++, 0.5) });
    }
  }
  return params;
}

interface Sequence {
  ids: number[];
  labels: number[];
}

/** Right-pads sequences to `seq` tokens (pad id 0, attention 0, label -100). */
function padded(seqs: Sequence[], seq = Math.max(...seqs.map((s) => s.ids.length))): TrainingBatch {
  const fill = (pick: (s: Sequence) => number[], pad: number) =>
    seqs.flatMap((s) => [...pick(s), ...new Array<number>(seq - s.ids.length).fill(pad)]);
  return {
    batch: seqs.length,
    seq,
    inputIds: fill((s) => s.ids, 0),
    attentionMask: fill((s) => s.ids.map(() => 1), 0),
    labels: fill((s) => s.labels, -100),
  };
}

const sequences: Sequence[] = [
  { ids: [1, 5, 9, 14, 3, 2], labels: [-100, -100, 9, 14, 3, 2] },
  { ids: [1, 7, 30, 2], labels: [-100, 7, 30, 2] },
  { ids: [1, 12, 6, 8, 21, 19, 2], labels: [-100, -100, -100, 8, 21, 19, 2] },
  { ids: [1, 4, 2], labels: [-100, 4, 2] },
  { ids: [1, 17, 25, 3, 2], labels: [-100, -100, 25, 3, 2] },
  { ids: [1, 9, 9, 2], labels: [-100, 9, 9, 2] },
];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Runs the G-adapters graph on `groups` and each group alone on the one-adapter graph; returns the largest difference. */
async function compareRowByRow(targets: readonly LoraTarget[], groups: Sequence[][], dtype: 'float32' | 'float64', layers?: number[]) {
  const single = await TrainingSession.create(config, weights, { targets, layers, dtype });
  const batched = await TrainingSession.create(config, weights, { targets, layers, dtype, batchedAdapters: true });
  const adapters = groups.map((_, g) => {
    const all = randomLora(targets, 2, 500 + 40 * g);
    return new Map([...all].filter(([key]) => single.modules.some((m) => `${m.layer}.${m.target}` === key)));
  });
  const together = await batched.stepAdapters(padded(groups.flat()), adapters, 4);
  let worstLoss = 0;
  let worstGrad = 0;
  let largestGrad = 0;
  for (let g = 0; g < groups.length; g++) {
    const alone = await single.step(padded(groups[g]), adapters[g], 4);
    worstLoss = Math.max(worstLoss, Math.abs(together.losses[g] - alone.loss));
    for (const [key, grad] of alone.grads) {
      const got = together.grads[g].get(key) as LoraParams;
      worstGrad = Math.max(worstGrad, maxAbsDiff(got.a, grad.a), maxAbsDiff(got.b, grad.b));
      largestGrad = Math.max(largestGrad, ...Array.from(grad.a, Math.abs), ...Array.from(grad.b, Math.abs));
    }
  }
  await single.release();
  await batched.release();
  return { worstLoss, worstGrad, largestGrad };
}

describe('G-adapters training graph vs the one-adapter graph, adapter by adapter', () => {
  it('float64, all seven targets, one sequence per adapter, padded to the longest: identical loss and gradients', async () => {
    const r = await compareRowByRow(
      LORA_TARGETS,
      sequences.slice(0, 3).map((s) => [s]),
      'float64',
    );
    expect(r.largestGrad).toBeGreaterThan(1e-3);
    expect(r.worstLoss).toBeLessThan(1e-12);
    expect(r.worstGrad).toBeLessThan(1e-12);
  });

  it('float64, MLP targets on the top layer, two sequences per adapter (mean over the pair, not over the batch)', async () => {
    const groups = [sequences.slice(0, 2), sequences.slice(2, 4), sequences.slice(4, 6)];
    const r = await compareRowByRow(['gate_proj', 'up_proj', 'down_proj'], groups, 'float64', [1]);
    expect(r.largestGrad).toBeGreaterThan(1e-3);
    expect(r.worstLoss).toBeLessThan(1e-12);
    expect(r.worstGrad).toBeLessThan(1e-12);
  });

  it('float32 agrees to fp32 rounding', async () => {
    const r = await compareRowByRow(
      ['q_proj', 'v_proj', 'down_proj'],
      sequences.slice(0, 4).map((s) => [s]),
      'float32',
    );
    expect(r.worstLoss).toBeLessThan(1e-5);
    expect(r.worstGrad).toBeLessThan(1e-5 * Math.max(1, r.largestGrad));
  });

  it('an adapter with no scored token gets loss 0 and zero gradients', async () => {
    const targets: LoraTarget[] = ['up_proj', 'down_proj'];
    const session = await TrainingSession.create(config, weights, { targets, dtype: 'float64', batchedAdapters: true });
    const adapters = [randomLora(targets, 2, 900), randomLora(targets, 2, 950)];
    const empty: Sequence = { ids: [1, 6, 2], labels: [-100, -100, -100] };
    const r = await session.stepAdapters(padded([sequences[0], empty]), adapters, 2);
    expect(r.losses[0]).toBeGreaterThan(0);
    expect(r.losses[1]).toBe(0);
    for (const g of r.grads[1].values()) expect([...g.a, ...g.b].every((v) => v === 0)).toBe(true);
    await expect(session.step(padded([sequences[0]]), adapters[0], 2)).rejects.toThrow(/stepAdapters/);
    await expect(session.stepAdapters(padded(sequences.slice(0, 3)), adapters, 2)).rejects.toThrow(/equal adapter groups/);
    await session.release();
  });
});
