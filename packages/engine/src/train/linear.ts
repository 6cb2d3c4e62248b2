import type { Ops } from './ops.js';

/** A LoRA branch on a linear layer, PEFT parameterisation: y += scale · (x·Aᵀ)·Bᵀ. */
export interface LoraBranch {
  /** [rank, in] */
  a: string;
  /** [out, rank], NOT scaled: the optimizer works on PEFT's parameters. */
  b: string;
  /** Scalar alpha / rank. */
  scale: string;
}

export interface LinearSaved {
  x: string;
  w: string;
  lora?: LoraBranch;
  /** scale · x·Aᵀ, [N, rank] */
  ts?: string;
}

/** y = x·Wᵀ (+ bias) (+ scale·x·Aᵀ·Bᵀ), x [N, in], W [out, in] frozen. */
export function linearForward(o: Ops, x: string, w: string, bias?: string, lora?: LoraBranch): { y: string; saved: LinearSaved } {
  const base = o.gemm(x, w, { transB: true, c: bias });
  if (!lora) return { y: base, saved: { x, w } };
  const ts = o.mul(o.gemm(x, lora.a, { transB: true }), lora.scale);
  return { y: o.gemm(ts, lora.b, { transB: true, c: base }), saved: { x, w, lora, ts } };
}

/**
 * dB = dyᵀ·ts, dA = scale·(dy·B)ᵀ·x, dx = dy·W + scale·(dy·B)·A. W and bias are frozen: no gradient.
 * dx is built only when something below needs it.
 */
export function linearBackward(o: Ops, s: LinearSaved, dy: string, needDx: boolean): { dx?: string; dA?: string; dB?: string } {
  if (!s.lora || !s.ts) return needDx ? { dx: o.gemm(dy, s.w) } : {};
  const dB = o.gemm(dy, s.ts, { transA: true });
  const dt = o.mul(o.gemm(dy, s.lora.b), s.lora.scale);
  const dA = o.gemm(dt, s.x, { transA: true });
  const dx = needDx ? o.gemm(dt, s.lora.a, { c: o.gemm(dy, s.w) }) : undefined;
  return { dx, dA, dB };
}
