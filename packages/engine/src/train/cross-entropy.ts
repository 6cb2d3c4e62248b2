import type { Ops } from './ops.js';

export interface CrossEntropySaved {
  /** Flat row indices of the scored positions [M, 1]. */
  rows: string;
  /** Their target ids [M, 1]. */
  targets: string;
  /** softmax(logits) / M, [M, V]. */
  probsOverCount: string;
  /** M as a float scalar. */
  count: string;
  /** Shape of h, for the scatter back. */
  hShape: string;
  /** LM head [V, H]. */
  head: string;
}

/**
 * Causal-LM loss as transformers computes it: position t predicts labels[t + 1]; labels equal to
 * -100 are ignored; mean over the remaining tokens. Only the M scored rows go through the LM head,
 * so prompt and padding tokens cost no [·, vocab] work.
 * h [N = B·S, H], labels int64 [B, S], head [V, H] → scalar loss.
 */
export function crossEntropyForward(o: Ops, h: string, labels: string, head: string): { loss: string; saved: CrossEntropySaved } {
  const g = o.g;
  const padded = g.op('Pad', [labels, g.ints([0, 0, 0, 1]), g.int(-100)]);
  const shifted = o.reshape(g.op('Slice', [padded, g.ints([1]), g.ints([2 ** 62]), g.ints([1])]), [-1]);
  const valid = g.op('Not', [g.op('Equal', [shifted, g.int(-100)])]);
  const rows = o.transpose(g.op('NonZero', [valid]), [1, 0]);
  const targets = g.op('GatherND', [shifted, rows]);
  const targetCol = g.op('Unsqueeze', [targets, g.ints([1])]);
  const logits = o.gemm(g.op('GatherND', [h, rows]), head, { transB: true });
  // Read the target logits first, so the logits buffer is dead once exp(logits - max) is taken and
  // ORT can reuse it: each [tokens, vocab] buffer is ~200 MB at a batch of 4 x 256.
  const picked = g.op('GatherElements', [logits, targetCol], { axis: 1 });
  const max = o.reduceMax(logits, [-1]);
  const e = o.unary('Exp', o.sub(logits, max));
  const sum = o.reduceSum(e, [-1]);
  const lse = o.add(max, o.unary('Log', sum));
  const count = o.cast(g.op('Size', [targets]), o.dtype);
  const loss = o.div(o.reduceSum(o.sub(lse, picked), [0, 1], false), count);
  // softmax / M in one pass over [M, V]: the backward needs nothing else from the forward.
  const probsOverCount = o.mul(e, o.unary('Reciprocal', o.mul(sum, count)));
  return { loss, saved: { rows, targets: targetCol, probsOverCount, count, hShape: o.unary('Shape', h), head } };
}

/** dh for dloss = 1: dlogits = (softmax - onehot(target)) / M, scattered back to the scored rows. */
export function crossEntropyBackward(o: Ops, s: CrossEntropySaved): string {
  const g = o.g;
  const minusOne = g.op('ConstantOfShape', [o.unary('Shape', s.targets)], { value: { tensor: scalarTensor(o, -1) } });
  const minusInvCount = o.div(minusOne, s.count);
  const dlogits = g.op('ScatterElements', [s.probsOverCount, s.targets, minusInvCount], { axis: 1, reduction: 'add' });
  const zeros = g.op('ConstantOfShape', [s.hShape], { value: { tensor: scalarTensor(o, 0) } });
  return g.op('ScatterND', [zeros, s.rows, o.gemm(dlogits, s.head)]);
}

function scalarTensor(o: Ops, v: number) {
  return o.dtype === 'float64'
    ? { dtype: 'float64' as const, dims: [1], data: Float64Array.of(v) }
    : { dtype: 'float32' as const, dims: [1], data: Float32Array.of(v) };
}
