import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graph/builder.js';
import { attentionBackward, attentionForward, attentionMask } from './attention.js';
import { crossEntropyBackward, crossEntropyForward } from './cross-entropy.js';
import { type CheckInput, gradCheck, randoms } from './gradcheck.js';
import { linearBackward, linearForward } from './linear.js';
import { Ops } from './ops.js';
import { rmsNormBackward, rmsNormForward } from './rmsnorm.js';
import { ropeBackward, ropeForward, ropeTables } from './rope.js';
import { swiGluBackward, swiGluForward } from './swiglu.js';
import { tinyLlamaConfig } from './tiny-model.js';

let seed = 100;
function input(name: string, dims: number[], check = true, scale = 1, offset = 0): CheckInput {
  const data = randoms(
    dims.reduce((a, b) => a * b, 1),
    seed++,
    scale,
  ).map((v) => v + offset);
  return { name, dims, data, check };
}

/** loss = Σ y·R for a fixed random R, so dL/dy = R drives the backward rule under test. */
function projected(o: Ops, y: string, r: string): string {
  return o.reduceSum(o.mul(y, r), [], false);
}

function expectClose(results: Array<{ name: string; relErr: number; maxAbs: number }>, tol = 1e-6) {
  for (const r of results) {
    expect(r.maxAbs, `${r.name} has a non-trivial gradient`).toBeGreaterThan(1e-6);
    expect(r.relErr, `${r.name}: analytic vs finite differences`).toBeLessThan(tol);
  }
}

const ints = (v: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), dims);

describe('training primitives: gradient rule vs float64 finite differences', () => {
  it('linear with a LoRA branch (dx, dA, dB; W frozen)', async () => {
    const res = await gradCheck(
      [input('x', [5, 6]), input('w', [4, 6], false), input('a', [2, 6]), input('b', [4, 2]), input('r', [5, 4], false)],
      (o, n) => {
        const { y, saved } = linearForward(o, n.x, n.w, undefined, { a: n.a, b: n.b, scale: o.c(1.7) });
        const d = linearBackward(o, saved, n.r, true);
        return { loss: projected(o, y, n.r), grads: { x: d.dx ?? '', a: d.dA ?? '', b: d.dB ?? '' } };
      },
    );
    expectClose(res);
  });

  it('linear without LoRA, with bias (dx)', async () => {
    const res = await gradCheck(
      [input('x', [3, 5]), input('w', [4, 5], false), input('bias', [4], false), input('r', [3, 4], false)],
      (o, n) => {
        const { y, saved } = linearForward(o, n.x, n.w, n.bias);
        return { loss: projected(o, y, n.r), grads: { x: linearBackward(o, saved, n.r, true).dx ?? '' } };
      },
    );
    expectClose(res);
  });

  it('RMSNorm', async () => {
    const res = await gradCheck([input('x', [3, 8]), input('w', [8], false, 0.3, 1), input('r', [3, 8], false)], (o, n) => {
      const { y, saved } = rmsNormForward(o, n.x, n.w, 1e-5);
      return { loss: projected(o, y, n.r), grads: { x: rmsNormBackward(o, saved, n.r) } };
    });
    expectClose(res);
  });

  it('SiLU-gated product', async () => {
    const res = await gradCheck([input('gate', [3, 5], true, 3), input('up', [3, 5]), input('r', [3, 5], false)], (o, n) => {
      const { m, saved } = swiGluForward(o, n.gate, n.up);
      const d = swiGluBackward(o, saved, n.r);
      return { loss: projected(o, m, n.r), grads: { gate: d.dGate, up: d.dUp } };
    });
    expectClose(res);
  });

  it('rotary embedding', async () => {
    const config = tinyLlamaConfig({ headDim: 8, ropeTheta: 100 });
    const res = await gradCheck([input('x', [2, 2, 3, 8]), input('r', [2, 2, 3, 8], false)], (o, n) => {
      const t = ropeTables(o, config, o.g.int(3));
      const y = ropeForward(o, t, n.x, 8);
      return { loss: projected(o, y, n.r), grads: { x: ropeBackward(o, t, n.r, 8) } };
    });
    expectClose(res);
  });

  it('attention: causal + padding mask, grouped-query heads, rotary', async () => {
    const config = tinyLlamaConfig();
    const [B, S, nh, nkv, d] = [2, 3, 4, 2, 4];
    const res = await gradCheck(
      [input('q', [B * S, nh * d]), input('k', [B * S, nkv * d]), input('v', [B * S, nkv * d]), input('r', [B * S, nh * d], false)],
      (o, n) => {
        const seqLen = o.g.op('Gather', [o.unary('Shape', n.ids), o.g.int(1)], { axis: 0 });
        const c = {
          numHeads: nh,
          numKvHeads: nkv,
          headDim: d,
          rope: ropeTables(o, config, seqLen),
          mask: attentionMask(o, n.mask, seqLen, nh / nkv),
          batchShape: o.unary('Shape', n.ids),
        };
        const { y, saved } = attentionForward(o, c, n.q, n.k, n.v);
        const g = attentionBackward(o, c, saved, n.r);
        return { loss: projected(o, y, n.r), grads: { q: g.dq, k: g.dk, v: g.dv } };
      },
      { ids: ints([5, 6, 7, 5, 6, 0], [B, S]), mask: ints([1, 1, 1, 1, 1, 0], [B, S]) },
    );
    expectClose(res);
  });

  it('LM head + softmax cross-entropy over unmasked labels', async () => {
    const res = await gradCheck(
      [input('h', [6, 5]), input('head', [11, 5], false)],
      (o, n) => {
        const { loss, saved } = crossEntropyForward(o, n.h, n.labels, n.head);
        return { loss, grads: { h: crossEntropyBackward(o, saved) } };
      },
      { labels: ints([-100, 3, 9, -100, 10, -100], [2, 3]) },
    );
    expectClose(res);
  });

  it('cross-entropy stays finite and exact in float32 when logits are in the thousands', async () => {
    const g = new GraphBuilder('ce32');
    const o = new Ops(g, 'float32');
    g.input('h', 'float32', [2, 2]);
    g.input('head', 'float32', [3, 2]);
    g.input('labels', 'int64', [1, 2]);
    g.outputAs(crossEntropyForward(o, 'h', 'labels', 'head').loss, 'loss', 'float32', []);
    const session = await ort.InferenceSession.create(g.toBytes());
    const out = await session.run({
      h: new ort.Tensor('float32', Float32Array.of(1000, 0, 0, 1), [2, 2]),
      head: new ort.Tensor('float32', Float32Array.of(1, 0, 0.999, 0, 0, 1), [3, 2]),
      labels: ints([-100, 1], [1, 2]),
    });
    // Row 0 logits: [1000, 999, 0], target 1: loss = log(1 + e^-1 + e^-1000) + 1.
    expect(out.loss.data[0]).toBeCloseTo(Math.log(1 + Math.exp(1)), 4);
  });
});
