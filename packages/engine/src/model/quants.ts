import { f16ToF32 } from '@rg/lora';

/**
 * GGML tensor types rg can read, with ggml's type ids and block geometry. Block layouts follow
 * ggml-common.h / ggml-quants.c (little-endian; "f16" is an IEEE half):
 *
 * - Q8_0 (34 B / 32): f16 d, int8 q[32]; x[i] = d * q[i]
 * - Q4_0 (18 B / 32): f16 d, u8 qs[16]; x[j] = d * ((qs[j] & 15) - 8), x[j+16] = d * ((qs[j] >> 4) - 8)
 * - Q4_1 (20 B / 32): f16 d, f16 m, u8 qs[16]; x[j] = d * (qs[j] & 15) + m, x[j+16] = d * (qs[j] >> 4) + m
 * - Q4_K (144 B / 256): f16 d, f16 dmin, u8 scales[12] (eight 6-bit scale/min pairs), u8 qs[128];
 *   sub-block s of 32 values: x = d * sc[s] * q - dmin * mn[s]; each 64 values share 32 bytes of qs
 *   (low nibbles the first 32, high nibbles the next 32)
 * - Q6_K (210 B / 256): u8 ql[128] (low 4 bits), u8 qh[64] (high 2 bits), int8 scales[16], f16 d;
 *   x = d * scales[i / 16] * (q - 32)
 */
export const GGML_TYPES = {
  F32: { id: 0, blockSize: 1, typeSize: 4 },
  F16: { id: 1, blockSize: 1, typeSize: 2 },
  Q4_0: { id: 2, blockSize: 32, typeSize: 18 },
  Q4_1: { id: 3, blockSize: 32, typeSize: 20 },
  Q8_0: { id: 8, blockSize: 32, typeSize: 34 },
  Q4_K: { id: 12, blockSize: 256, typeSize: 144 },
  Q6_K: { id: 14, blockSize: 256, typeSize: 210 },
  BF16: { id: 30, blockSize: 1, typeSize: 2 },
} as const;

export type GgmlTypeName = keyof typeof GGML_TYPES;

const BY_ID = new Map<number, GgmlTypeName>(Object.entries(GGML_TYPES).map(([name, t]) => [t.id, name as GgmlTypeName]));

/** The type name for a ggml type id, or undefined when rg cannot read it. */
export function ggmlTypeName(id: number): GgmlTypeName | undefined {
  return BY_ID.get(id);
}

/** Bytes that `elements` values of a type occupy (elements must be a whole number of blocks). */
export function ggmlBytes(type: GgmlTypeName, elements: number): number {
  const t = GGML_TYPES[type];
  return (elements / t.blockSize) * t.typeSize;
}

// All 65536 halves decoded once: dequantization reads a scale per block, a table lookup is the cheap way.
let halfTable: Float32Array | undefined;
function halves(): Float32Array {
  if (!halfTable) {
    const all = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) all[i] = i;
    halfTable = f16ToF32(all);
  }
  return halfTable;
}

/** Dequantize `elements` values of `type` from `bytes` (exactly their size) to fp32. */
export function dequantize(type: GgmlTypeName, bytes: Uint8Array, elements: number): Float32Array {
  const t = GGML_TYPES[type];
  if (elements % t.blockSize !== 0) throw new Error(`${type}: ${elements} values is not a whole number of ${t.blockSize}-value blocks`);
  const expected = ggmlBytes(type, elements);
  if (bytes.byteLength !== expected) throw new Error(`${type}: ${elements} values need ${expected} bytes, got ${bytes.byteLength}`);
  const out = new Float32Array(elements);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = halves();
  const blocks = elements / t.blockSize;
  switch (type) {
    case 'F32':
      // A copy of the bytes is 4-byte aligned, so it can be viewed as floats directly (little-endian host).
      out.set(new Float32Array(bytes.slice().buffer, 0, elements));
      break;
    case 'F16':
      for (let i = 0; i < elements; i++) out[i] = h[view.getUint16(2 * i, true)];
      break;
    case 'BF16':
      for (let i = 0; i < elements; i++) out[i] = bf16(view.getUint16(2 * i, true));
      break;
    case 'Q8_0': {
      const q = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let b = 0; b < blocks; b++) {
        const p = 34 * b;
        const d = h[bytes[p] | (bytes[p + 1] << 8)];
        for (let i = 0; i < 32; i++) out[32 * b + i] = d * q[p + 2 + i];
      }
      break;
    }
    case 'Q4_0':
      for (let b = 0; b < blocks; b++) {
        const p = 18 * b;
        const d = h[view.getUint16(p, true)];
        for (let j = 0; j < 16; j++) {
          const q = bytes[p + 2 + j];
          out[32 * b + j] = d * ((q & 15) - 8);
          out[32 * b + j + 16] = d * ((q >> 4) - 8);
        }
      }
      break;
    case 'Q4_1':
      for (let b = 0; b < blocks; b++) {
        const p = 20 * b;
        const d = h[bytes[p] | (bytes[p + 1] << 8)];
        const m = h[bytes[p + 2] | (bytes[p + 3] << 8)];
        for (let j = 0; j < 16; j++) {
          const q = bytes[p + 4 + j];
          out[32 * b + j] = d * (q & 15) + m;
          out[32 * b + j + 16] = d * (q >> 4) + m;
        }
      }
      break;
    case 'Q4_K':
      for (let b = 0; b < blocks; b++) dequantizeQ4KBlock(bytes, view, 144 * b, out, 256 * b, h);
      break;
    case 'Q6_K':
      for (let b = 0; b < blocks; b++) dequantizeQ6KBlock(bytes, view, 210 * b, out, 256 * b, h);
      break;
  }
  return out;
}

function bf16(bits: number): number {
  const u = new Uint32Array([bits << 16]);
  return new Float32Array(u.buffer)[0];
}

/** Scale and min of Q4_K sub-block s: 6 bits each, packed into 12 bytes (ggml's get_scale_min_k4). */
function q4kScaleMin(bytes: Uint8Array, scales: number, s: number): [number, number] {
  if (s < 4) return [bytes[scales + s] & 63, bytes[scales + s + 4] & 63];
  const sc = (bytes[scales + s + 4] & 15) | ((bytes[scales + s - 4] >> 6) << 4);
  const mn = (bytes[scales + s + 4] >> 4) | ((bytes[scales + s] >> 6) << 4);
  return [sc, mn];
}

function dequantizeQ4KBlock(bytes: Uint8Array, view: DataView, p: number, out: Float32Array, o: number, h: Float32Array): void {
  const d = h[view.getUint16(p, true)];
  const dmin = h[view.getUint16(p + 2, true)];
  const scales = p + 4;
  const qs = p + 16;
  for (let chunk = 0; chunk < 4; chunk++) {
    const [sc1, mn1] = q4kScaleMin(bytes, scales, 2 * chunk);
    const [sc2, mn2] = q4kScaleMin(bytes, scales, 2 * chunk + 1);
    const d1 = d * sc1;
    const m1 = dmin * mn1;
    const d2 = d * sc2;
    const m2 = dmin * mn2;
    for (let l = 0; l < 32; l++) {
      const q = bytes[qs + 32 * chunk + l];
      out[o + 64 * chunk + l] = d1 * (q & 15) - m1;
      out[o + 64 * chunk + 32 + l] = d2 * (q >> 4) - m2;
    }
  }
}

function dequantizeQ6KBlock(bytes: Uint8Array, view: DataView, p: number, out: Float32Array, o: number, h: Float32Array): void {
  const d = h[view.getUint16(p + 208, true)];
  for (let half = 0; half < 2; half++) {
    const ql = p + 64 * half;
    const qh = p + 128 + 32 * half;
    const sc = p + 192 + 8 * half;
    const y = o + 128 * half;
    for (let l = 0; l < 32; l++) {
      const s = l >> 4;
      const hi = bytes[qh + l];
      const q1 = ((bytes[ql + l] & 15) | ((hi & 3) << 4)) - 32;
      const q2 = ((bytes[ql + l + 32] & 15) | (((hi >> 2) & 3) << 4)) - 32;
      const q3 = ((bytes[ql + l] >> 4) | (((hi >> 4) & 3) << 4)) - 32;
      const q4 = ((bytes[ql + l + 32] >> 4) | (((hi >> 6) & 3) << 4)) - 32;
      out[y + l] = d * view.getInt8(sc + s) * q1;
      out[y + l + 32] = d * view.getInt8(sc + s + 2) * q2;
      out[y + l + 64] = d * view.getInt8(sc + s + 4) * q3;
      out[y + l + 96] = d * view.getInt8(sc + s + 6) * q4;
    }
  }
}
