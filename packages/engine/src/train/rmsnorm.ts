import type { Ops } from './ops.js';

export interface RmsNormSaved {
  w: string;
  /** x · r */
  xn: string;
  /** 1 / sqrt(mean(x²) + eps), [N, 1] */
  r: string;
}

/** y = x / sqrt(mean(x²) + eps) · w over the last axis, as Llama's RMSNorm. */
export function rmsNormForward(o: Ops, x: string, w: string, eps: number): { y: string; saved: RmsNormSaved } {
  const r = o.unary('Reciprocal', o.unary('Sqrt', o.add(o.reduceMean(o.mul(x, x), [-1]), o.c(eps))));
  const xn = o.mul(x, r);
  return { y: o.mul(xn, w), saved: { w, xn, r } };
}

/** dx = r · (dxn - xn · mean(dxn · xn)) with dxn = dy · w (w frozen). */
export function rmsNormBackward(o: Ops, s: RmsNormSaved, dy: string): string {
  const dxn = o.mul(dy, s.w);
  return o.mul(o.sub(dxn, o.mul(s.xn, o.reduceMean(o.mul(dxn, s.xn), [-1]))), s.r);
}
