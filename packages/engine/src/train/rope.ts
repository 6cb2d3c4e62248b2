import { ropeInverseFrequencies } from '../graph/rope.js';
import type { ModelConfig } from '../model/config.js';
import type { Ops } from './ops.js';

/** cos and signed sin tables [S, headDim] for positions 0..S-1 (HF's default position_ids). */
export interface RopeTables {
  cos: string;
  /** [-sin, sin] halves, so rotate_half(x)·sin = swapHalves(x)·sinSigned. */
  sinSigned: string;
}

/** Tables for `seqLen` (an int64 scalar value in the graph). */
export function ropeTables(o: Ops, config: ModelConfig, seqLen: string): RopeTables {
  const inv = ropeInverseFrequencies(config);
  const data = o.dtype === 'float64' ? Float64Array.from(inv) : Float32Array.from(inv);
  const invFreq = o.g.initializer(o.g.fresh('rope_inv_freq'), { dtype: o.dtype, dims: [1, inv.length], data });
  const pos = o.g.op('Unsqueeze', [o.cast(o.g.op('Range', [o.g.int(0), seqLen, o.g.int(1)]), o.dtype), o.g.ints([1])]);
  const angles = o.mul(pos, invFreq);
  const sin = o.g.op('Sin', [angles]);
  return {
    cos: o.g.op('Cos', [o.concat([angles, angles], -1)]),
    sinSigned: o.concat([o.unary('Neg', sin), sin], -1),
  };
}

function swapHalves(o: Ops, x: string, headDim: number): string {
  return o.concat([o.slice(x, -1, headDim / 2, headDim), o.slice(x, -1, 0, headDim / 2)], -1);
}

/** x [..., S, headDim] → x·cos + rotate_half(x)·sin. */
export function ropeForward(o: Ops, t: RopeTables, x: string, headDim: number): string {
  return o.add(o.mul(x, t.cos), o.mul(swapHalves(o, x, headDim), t.sinSigned));
}

/** The transpose of the rotation: dx = dy·cos + swapHalves(dy·sinSigned). */
export function ropeBackward(o: Ops, t: RopeTables, dy: string, headDim: number): string {
  return o.add(o.mul(dy, t.cos), swapHalves(o, o.mul(dy, t.sinSigned), headDim));
}
