import type { Ops } from './ops.js';
import { type RopeTables, ropeBackward, ropeForward } from './rope.js';

/** What attention needs from the batch: rotary tables, the additive mask and the [B, S] shape. */
export interface AttentionContext {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rope: RopeTables;
  /** Additive mask [B, 1, rep·S, S] (causal + padded keys), rows in the grouped-query layout. */
  mask: string;
  /** int64 [2] = [B, S]. */
  batchShape: string;
}

export interface AttentionSaved {
  /** Rotated, pre-scaled queries [B, kvHeads, rep·S, headDim]. */
  qs: string;
  /** Rotated keys [B, kvHeads, S, headDim]. */
  k: string;
  v: string;
  /** Softmax probabilities [B, kvHeads, rep·S, S]. */
  p: string;
}

/**
 * Builds the additive mask: key j is hidden from query i when j > i (causal) or when
 * attention_mask[b, j] = 0 (padding). Query heads are grouped by their KV head (GQA), so the
 * [S, S] block is tiled rep times along the rows instead of copying K and V per query head.
 */
export function attentionMask(o: Ops, attentionMask: string, seqLen: string, rep: number): string {
  const g = o.g;
  const idx = g.op('Range', [g.int(0), seqLen, g.int(1)]);
  const causal = g.op('Greater', [g.op('Unsqueeze', [idx, g.ints([0])]), g.op('Unsqueeze', [idx, g.ints([1])])]);
  const padded = g.op('Equal', [g.op('Unsqueeze', [attentionMask, g.ints([1, 2])]), g.int(0)]);
  const hidden = g.op('Or', [causal, padded]);
  const additive = g.op('Where', [hidden, o.c(-1e30), o.c(0)]);
  return g.op('Tile', [additive, g.ints([1, 1, rep, 1])]);
}

function splitHeads(o: Ops, c: AttentionContext, x: string, heads: number): string {
  return o.transpose(o.reshape(x, o.concat([c.batchShape, o.g.ints([heads, c.headDim])], 0)), [0, 2, 1, 3]);
}

function mergeHeads(o: Ops, c: AttentionContext, x: string, heads: number): string {
  return o.reshape(o.transpose(x, [0, 2, 1, 3]), [-1, heads * c.headDim]);
}

/** softmax(q·kᵀ/√d + mask)·v for q [N, heads·d], k and v [N, kvHeads·d]; returns [N, heads·d]. */
export function attentionForward(o: Ops, c: AttentionContext, q: string, k: string, v: string): { y: string; saved: AttentionSaved } {
  const d = c.headDim;
  const qr = ropeForward(o, c.rope, splitHeads(o, c, q, c.numHeads), d);
  const qs = o.mul(o.reshape(qr, [0, c.numKvHeads, -1, d]), o.c(1 / Math.sqrt(d)));
  const kr = ropeForward(o, c.rope, splitHeads(o, c, k, c.numKvHeads), d);
  const vh = splitHeads(o, c, v, c.numKvHeads);
  const p = o.g.op('Softmax', [o.add(o.matmul(qs, o.transpose(kr, [0, 1, 3, 2])), c.mask)], { axis: -1 });
  const out = o.reshape(o.matmul(p, vh), [0, c.numHeads, -1, d]);
  return { y: mergeHeads(o, c, out, c.numHeads), saved: { qs, k: kr, v: vh, p } };
}

/** Gradients into q, k, v (pre-rotation, [N, ·]) from dy [N, heads·d]. */
export function attentionBackward(o: Ops, c: AttentionContext, s: AttentionSaved, dy: string): { dq: string; dk: string; dv: string } {
  const d = c.headDim;
  const dout = o.reshape(splitHeads(o, c, dy, c.numHeads), [0, c.numKvHeads, -1, d]);
  const dp = o.matmul(dout, o.transpose(s.v, [0, 1, 3, 2]));
  const dv = o.matmul(o.transpose(s.p, [0, 1, 3, 2]), dout);
  // softmax backward: dscores = p · (dp - Σ_j dp·p)
  const dpp = o.mul(dp, s.p);
  const dscores = o.sub(dpp, o.mul(s.p, o.reduceSum(dpp, [-1])));
  const dqs = o.mul(o.matmul(dscores, s.k), o.c(1 / Math.sqrt(d)));
  const dk = o.matmul(o.transpose(dscores, [0, 1, 3, 2]), s.qs);
  const dq = ropeBackward(o, c.rope, o.reshape(dqs, [0, c.numHeads, -1, d]), d);
  return {
    dq: mergeHeads(o, c, dq, c.numHeads),
    dk: mergeHeads(o, c, ropeBackward(o, c.rope, dk, d), c.numKvHeads),
    dv: mergeHeads(o, c, dv, c.numKvHeads),
  };
}
