/** Storage dtypes of an adapter's tensors. fp32 and fp16 load in PEFT; int8 (per-row scales) is rg-only. */
export type AdapterDtype = 'fp32' | 'fp16' | 'int8';

export const ADAPTER_DTYPES: readonly AdapterDtype[] = ['fp32', 'fp16', 'int8'];

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** fp32 to IEEE half with round-to-nearest-even (what torch's .half() does), including subnormals. */
export function f32ToF16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    f32[0] = src[i];
    const bits = u32[0];
    const sign = (bits >>> 16) & 0x8000;
    const exp = (bits >>> 23) & 0xff;
    let mant = bits & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 112; // rebias 127 -> 15
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      // Subnormal half: value = m * 2^-24 with m = (1.mant) * 2^(e - 1 + 10) shifted down.
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let half = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const mid = 1 << (shift - 1);
      if (rem > mid || (rem === mid && half & 1)) half++;
      out[i] = sign | half;
      continue;
    }
    // A carry out of the mantissa correctly bumps the exponent (up to infinity).
    let half = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
    out[i] = sign | half;
  }
  return out;
}

/**
 * Symmetric int8 quantization with one fp32 scale per rank component: per row of A [rank, in] and
 * per column of B [out, rank] (a row of Bᵀ). Per row of B would cost a 4-byte scale for every
 * `rank` bytes of data, more than fp16 at the small ranks adapters use.
 */
export function quantizeInt8(data: Float32Array, rows: number, cols: number, perColumn: boolean): { q: Int8Array; scales: Float32Array } {
  const q = new Int8Array(rows * cols);
  const scales = new Float32Array(perColumn ? cols : rows);
  for (let i = 0; i < data.length; i++) {
    const g = perColumn ? i % cols : Math.floor(i / cols);
    scales[g] = Math.max(scales[g], Math.abs(data[i]));
  }
  for (let g = 0; g < scales.length; g++) scales[g] /= 127;
  for (let i = 0; i < data.length; i++) {
    const s = scales[perColumn ? i % cols : Math.floor(i / cols)];
    q[i] = s === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(data[i] / s)));
  }
  return { q, scales };
}

export function dequantizeInt8(
  q: Int8Array,
  scales: Float32Array,
  rows: number,
  cols: number,
  perColumn: boolean,
  out: Float32Array = new Float32Array(rows * cols),
): Float32Array {
  for (let i = 0; i < q.length; i++) out[i] = q[i] * scales[perColumn ? i % cols : Math.floor(i / cols)];
  return out;
}
