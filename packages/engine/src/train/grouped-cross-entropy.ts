import type { Ops } from './ops.js';

export interface GroupedCrossEntropySaved {
  /** Flat row indices of the scored positions [M, 1]. */
  rows: string;
  /** Their target ids [M, 1]. */
  targets: string;
  /** 1 / (scored tokens of the position's group), [M, 1]. */
  weights: string;
  /** softmax(logits) · weight, [M, V]. */
  probsWeighted: string;
  hShape: string;
  /** LM head [V, H]. */
  head: string;
}

/**
 * The causal-LM loss of G adapters trained in one batch: the B sequences form G consecutive equal groups
 * (as in batched-lora.ts), each group's loss is the mean over its own scored tokens (as if it were a batch
 * alone, see cross-entropy.ts), and the total is their sum, so dloss/d(adapter g) is exactly group g's
 * gradient. A group without scored tokens has loss 0 here (alone it would be 0/0).
 * h [N = B·S, H], labels int64 [B, S], head [V, H], groups int64 [1] → loss [], groupLosses [G].
 */
export function groupedCrossEntropyForward(
  o: Ops,
  h: string,
  labels: string,
  head: string,
  groups: string,
): { loss: string; groupLosses: string; saved: GroupedCrossEntropySaved } {
  const g = o.g;
  const padded = g.op('Pad', [labels, g.ints([0, 0, 0, 1]), g.int(-100)]);
  const shifted = o.reshape(g.op('Slice', [padded, g.ints([1]), g.ints([2 ** 62]), g.ints([1])]), [-1]);
  const valid = g.op('Not', [g.op('Equal', [shifted, g.int(-100)])]);
  const rows = o.transpose(g.op('NonZero', [valid]), [1, 0]);
  const targets = g.op('Unsqueeze', [g.op('GatherND', [shifted, rows]), g.ints([1])]);

  const validByGroup = o.reshape(o.cast(valid, o.dtype), o.concat([groups, g.ints([-1])], 0));
  const counts = g.op('Max', [o.reduceSum(validByGroup, [1]), o.c(1)]);
  const weightAt = o.reshape(o.div(validByGroup, counts), [-1]);
  const weights = g.op('Unsqueeze', [g.op('GatherND', [weightAt, rows]), g.ints([1])]);

  const logits = o.gemm(g.op('GatherND', [h, rows]), head, { transB: true });
  // Target logits first, so the logits buffer is dead once exp(logits - max) exists (as in cross-entropy.ts).
  const picked = g.op('GatherElements', [logits, targets], { axis: 1 });
  const max = o.reduceMax(logits, [-1]);
  const e = o.unary('Exp', o.sub(logits, max));
  const sum = o.reduceSum(e, [-1]);
  const weighted = o.reshape(o.mul(o.sub(o.add(max, o.unary('Log', sum)), picked), weights), [-1]);
  const perPosition = g.op('ScatterND', [zerosLike(o, o.unary('Shape', shifted)), rows, weighted]);
  const groupLosses = o.reduceSum(o.reshape(perPosition, o.concat([groups, g.ints([-1])], 0)), [1], false);
  const loss = o.reduceSum(groupLosses, [0], false);
  const probsWeighted = o.mul(e, o.div(weights, sum));
  return { loss, groupLosses, saved: { rows, targets, weights, probsWeighted, hShape: o.unary('Shape', h), head } };
}

/** dh for dloss = 1: dlogits = (softmax - onehot(target)) · weight, scattered back to the scored rows. */
export function groupedCrossEntropyBackward(o: Ops, s: GroupedCrossEntropySaved): string {
  const g = o.g;
  const dlogits = g.op('ScatterElements', [s.probsWeighted, s.targets, o.unary('Neg', s.weights)], { axis: 1, reduction: 'add' });
  return g.op('ScatterND', [zerosLike(o, s.hShape), s.rows, o.gemm(dlogits, s.head)]);
}

function zerosLike(o: Ops, shape: string): string {
  const value =
    o.dtype === 'float64'
      ? { dtype: 'float64' as const, dims: [1], data: Float64Array.of(0) }
      : { dtype: 'float32' as const, dims: [1], data: Float32Array.of(0) };
  return o.g.op('ConstantOfShape', [shape], { value: { tensor: value } });
}
