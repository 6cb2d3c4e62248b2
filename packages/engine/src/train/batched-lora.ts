import type { LoraBranch } from './linear.js';
import type { Ops } from './ops.js';

/**
 * Many adapters in one batch: the batch's N = B·S token rows form G consecutive, equally sized groups
 * (B = G·k sequences, k per adapter), and group g goes through its own LoRA pair. The base weight is
 * shared, so its matmul stays one [N, in]·[in, out] Gemm; only the rank-r branch is a batched MatMul.
 */
export interface BatchedLoraBranch extends LoraBranch {
  /** [G, rank, in] */
  a: string;
  /** [G, out, rank], NOT scaled. */
  b: string;
}

export interface BatchedLinearSaved {
  x: string;
  w: string;
  lora: BatchedLoraBranch;
  /** x as [G, N/G, in]. */
  xg: string;
  /** scale · x·Aᵀ per group, [G, N/G, rank]. */
  ts: string;
}

/** int64 [1] = G, read from the adapters' leading dimension, so one graph serves any number of adapters. */
export function adapterCount(o: Ops, a: string): string {
  return o.g.op('Shape', [a], { start: 0, end: 1 });
}

/** [N, d] → [G, N/G, d]: rows are laid out adapter-major, so this is a free reshape. */
function grouped(o: Ops, x: string, groups: string): string {
  return o.reshape(x, o.concat([groups, o.g.ints([-1]), o.g.op('Shape', [x], { start: 1 })], 0));
}

function swapLast(o: Ops, x: string): string {
  return o.transpose(x, [0, 2, 1]);
}

/**
 * The inference graph's per-row adapters: (x_g·A_gᵀ)·B_gᵀ for each group g, as [N, out]. A [G, rank, in], B [G, out,
 * rank] with the scale already folded into B (as the inference LoRA inputs carry it). Rank at least 1: for an inner
 * dimension of 0, ORT's batched MatMul leaves its output uninitialized (pad with a zero rank instead).
 */
export function batchedLoraDelta(o: Ops, x: string, a: string, b: string): string {
  const t = o.matmul(o.matmul(grouped(o, x, adapterCount(o, a)), swapLast(o, a)), swapLast(o, b));
  return o.reshape(t, o.concat([o.g.ints([-1]), o.g.op('Shape', [b], { start: 1, end: 2 })], 0));
}

/** y = x·Wᵀ (+ bias) + scale·(x_g·A_gᵀ)·B_gᵀ for each group g; x [N, in], W [out, in] frozen. */
export function batchedLinearForward(
  o: Ops,
  x: string,
  w: string,
  bias: string | undefined,
  lora: BatchedLoraBranch,
): { y: string; saved: BatchedLinearSaved } {
  const base = o.gemm(x, w, { transB: true, c: bias });
  const groups = adapterCount(o, lora.a);
  const xg = grouped(o, x, groups);
  const ts = o.mul(o.matmul(xg, swapLast(o, lora.a)), lora.scale);
  const y = o.add(base, o.reshape(o.matmul(ts, swapLast(o, lora.b)), o.unary('Shape', base)));
  return { y, saved: { x, w, lora, xg, ts } };
}

/**
 * Per group: dB_g = dy_gᵀ·ts_g, dA_g = scale·(dy_g·B_g)ᵀ·x_g; dx = dy·W + scale·(dy_g·B_g)·A_g.
 * Group g's gradients read only group g's rows, so each adapter gets what it would get alone.
 */
export function batchedLinearBackward(o: Ops, s: BatchedLinearSaved, dy: string, needDx: boolean): { dx?: string; dA: string; dB: string } {
  const dyg = grouped(o, dy, adapterCount(o, s.lora.a));
  const dB = o.matmul(swapLast(o, dyg), s.ts);
  const dt = o.mul(o.matmul(dyg, s.lora.b), s.lora.scale);
  const dA = o.matmul(swapLast(o, dt), s.xg);
  const dx = needDx ? o.add(o.gemm(dy, s.w), o.reshape(o.matmul(dt, s.lora.a), o.unary('Shape', s.x))) : undefined;
  return { dx, dA, dB };
}
