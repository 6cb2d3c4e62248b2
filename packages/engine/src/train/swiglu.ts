import type { Ops } from './ops.js';

export interface SwiGluSaved {
  gate: string;
  up: string;
  sig: string;
  silu: string;
}

/** m = silu(gate) · up, the gated activation of Llama's MLP. */
export function swiGluForward(o: Ops, gate: string, up: string): { m: string; saved: SwiGluSaved } {
  const sig = o.unary('Sigmoid', gate);
  const silu = o.mul(gate, sig);
  return { m: o.mul(silu, up), saved: { gate, up, sig, silu } };
}

/** silu'(g) = σ(g) · (1 + g · (1 - σ(g))). */
export function swiGluBackward(o: Ops, s: SwiGluSaved, dm: string): { dGate: string; dUp: string } {
  const dUp = o.mul(dm, s.silu);
  const dsilu = o.mul(s.sig, o.add(o.mul(s.gate, o.sub(o.c(1), s.sig)), o.c(1)));
  return { dGate: o.mul(o.mul(dm, s.up), dsilu), dUp };
}
