import type { GraphBuilder } from '../graph/builder.js';
import type { LinearWeight } from '../graph/ops.js';
import type { ModelWeights, Tensor32 } from '../model/config.js';

/**
 * How projection weights are stored for inference.
 * - 'f32': dense fp32 graph inputs; exact.
 * - 'q4': projections as 4-bit blocks of 32 with a scale and a float zero point each (the GGUF Q4_1
 *   scheme: value = min + q·scale), the LM head as 8-bit symmetric blocks (the GGUF Q8_0 scheme),
 *   run by com.microsoft::MatMulNBits. On weights that were Q4_1 / Q8_0 to begin with (the default
 *   SmolLM2 GGUF) re-blocking recovers the same codes, so this is lossless up to fp32 rounding;
 *   on fp32/f16 weights it is a lossy 4-bit quantization.
 */
export type WeightFormat = 'f32' | 'q4';

const BLOCK = 32;
const EXTERNAL_FILE = 'weights.bin';

interface Blocks {
  qweight: Uint8Array;
  scales: Float32Array;
  zeroPoints: Float32Array;
}

/**
 * A `linearWeight` hook for `buildLlamaGraph` that turns projections into MatMulNBits initializers
 * stored as external data, plus the bytes to hand the session.
 */
export function nbitsWeights(weights: ModelWeights, format: Exclude<WeightFormat, 'f32'>) {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const external = (g: GraphBuilder, name: string, dtype: 'uint8' | 'float32', dims: number[], bytes: Uint8Array) => {
    const value = g.externalInitializer(name, dtype, dims, EXTERNAL_FILE, offset, bytes.byteLength);
    chunks.push(bytes);
    offset += bytes.byteLength;
    return value;
  };
  const asBytes = (a: Float32Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

  const linearWeight = (g: GraphBuilder, name: string, inFeatures: number, outFeatures: number): LinearWeight | undefined => {
    if (inFeatures % BLOCK !== 0) return undefined;
    const t = weights.get(name);
    if (!t) throw new Error(`model weights: missing tensor '${name}'`);
    const isHead = name === 'lm_head.weight' || name === 'model.embed_tokens.weight';
    const bits = isHead || format !== 'q4' ? 8 : 4;
    const blocks = bits === 4 ? blocksQ4(t) : blocksQ8(t);
    const kBlocks = inFeatures / BLOCK;
    const base = `${name}.q${bits}`;
    return {
      kind: 'nbits',
      bits,
      blockSize: BLOCK,
      inFeatures,
      outFeatures,
      qweight: external(g, `${base}.qweight`, 'uint8', [outFeatures, kBlocks, (BLOCK * bits) / 8], blocks.qweight),
      scales: external(g, `${base}.scales`, 'float32', [outFeatures * kBlocks], asBytes(blocks.scales)),
      zeroPoints: external(g, `${base}.zero_points`, 'float32', [outFeatures * kBlocks], asBytes(blocks.zeroPoints)),
    };
  };

  const externalData = () => {
    const data = new Uint8Array(offset);
    let at = 0;
    for (const c of chunks) {
      data.set(c, at);
      at += c.byteLength;
    }
    chunks.length = 0;
    return [{ path: EXTERNAL_FILE, data }];
  };
  return { linearWeight, externalData };
}

/** Asymmetric 4-bit blocks along `in` (Q4_1): scale = (max - min) / 15, zero point = -min / scale. */
export function blocksQ4(t: Tensor32): Blocks {
  const [rows, cols] = t.dims;
  const kBlocks = cols / BLOCK;
  const qweight = new Uint8Array(rows * kBlocks * (BLOCK / 2));
  const scales = new Float32Array(rows * kBlocks);
  const zeroPoints = new Float32Array(rows * kBlocks);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < kBlocks; b++) {
      const start = r * cols + b * BLOCK;
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < BLOCK; i++) {
        const v = t.data[start + i];
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const scale = max > min ? (max - min) / 15 : 1;
      const blockIndex = r * kBlocks + b;
      scales[blockIndex] = scale;
      zeroPoints[blockIndex] = -min / scale;
      // MatMulNBits packs consecutive elements low nibble first (GGUF pairs j with j+16 instead).
      for (let i = 0; i < BLOCK; i += 2) {
        const q0 = Math.min(15, Math.max(0, Math.round((t.data[start + i] - min) / scale)));
        const q1 = Math.min(15, Math.max(0, Math.round((t.data[start + i + 1] - min) / scale)));
        qweight[blockIndex * (BLOCK / 2) + i / 2] = q0 | (q1 << 4);
      }
    }
  }
  return { qweight, scales, zeroPoints };
}

/** Symmetric 8-bit blocks along `in` (Q8_0): scale = max|x| / 127, codes offset by 128. */
export function blocksQ8(t: Tensor32): Blocks {
  const [rows, cols] = t.dims;
  const kBlocks = cols / BLOCK;
  const qweight = new Uint8Array(rows * cols);
  const scales = new Float32Array(rows * kBlocks);
  const zeroPoints = new Float32Array(rows * kBlocks).fill(128);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < kBlocks; b++) {
      const start = r * cols + b * BLOCK;
      let amax = 0;
      for (let i = 0; i < BLOCK; i++) amax = Math.max(amax, Math.abs(t.data[start + i]));
      const scale = amax > 0 ? amax / 127 : 1;
      scales[r * kBlocks + b] = scale;
      for (let i = 0; i < BLOCK; i++) qweight[start + i] = Math.round(t.data[start + i] / scale) + 128;
    }
  }
  return { qweight, scales, zeroPoints };
}
