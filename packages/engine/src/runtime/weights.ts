import type { GraphBuilder } from '../graph/builder.js';
import type { LinearWeight, NbitsWeight } from '../graph/ops.js';

import type { ModelWeights, Tensor32 } from '../model/config.js';

/**
 * How projection weights are stored for inference.
 * - 'f32' (default): dense fp32 graph inputs; exact (matches transformers to ~1e-6 relative).
 * - 'q4': projections as 4-bit blocks of 32 (the GGUF Q4_1 scheme, value = min + q·scale), the LM
 *   head as 8-bit blocks (the GGUF Q8_0 scheme), run by com.microsoft::MatMulNBits with int8
 *   activations. Re-blocking Q4_1 / Q8_0 weights (the default SmolLM2 GGUF) recovers their codes
 *   exactly; the int8 activations cost ~1-3% relative error on logits (see README: Graphs).
 * - 'q8': every projection and the LM head as symmetric 8-bit blocks of 32 (Q8_0), same kernels: a quarter of f32's
 *   bytes per decoded token (decode is bandwidth-bound) with the weights' own error ~16x below q4's, so what is left
 *   is mostly the int8 activations'.
 */
export type WeightFormat = 'f32' | 'q4' | 'q8';

/** The weight formats, for flags. */
export const WEIGHT_FORMATS: readonly WeightFormat[] = ['f32', 'q4', 'q8'];

const BLOCK = 32;
const EXTERNAL_FILE = 'weights.bin';

interface Blocks {
  /** `[rows, kBlocks, BLOCK·bits/8]`, MatMulNBits nibble order. */
  qweight: Uint8Array;
  /** `[rows · kBlocks]`. */
  scales: Float32Array;
  /** uint8 zero points, packed two per byte for 4 bits. */
  zeroPoints: Uint8Array;
  /** `[kBlocks, rows]`: block minimums (Q4 only), added as blockSums(x)·mins. */
  mins?: Float32Array;
}

/** Cached quantized weights that do not fit the graph being built (another model or layout): quantize again. */
export class QuantCacheMismatch extends Error {
  override name = 'QuantCacheMismatch';
}

/**
 * A `linearWeight` hook for `buildLlamaGraph` that turns projections into MatMulNBits initializers
 * stored as external data, plus the bytes to hand the session. `bits`: 4 (the LM head still 8) or 8 for all.
 * `cached`: the external data an earlier build of the same graph over the same weights gave (quant-cache.ts): the
 * initializers are laid out again without reading or quantizing any weight, and externalData() hands it back, or
 * throws QuantCacheMismatch when the layout does not add up to its length.
 */
export function nbitsWeights(weights: ModelWeights, bits: 4 | 8 = 4, cached?: Uint8Array) {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const external = (
    g: GraphBuilder,
    name: string,
    dtype: 'uint8' | 'float32',
    dims: number[],
    data: Uint8Array | Float32Array | undefined,
  ) => {
    const byteLength = dims.reduce((a, b) => a * b, 1) * (dtype === 'float32' ? 4 : 1);
    if (data) {
      if (data.byteLength !== byteLength) throw new Error(`${name}: ${data.byteLength} bytes for dims [${dims}]`);
      chunks.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    const value = g.externalInitializer(name, dtype, dims, EXTERNAL_FILE, offset, byteLength);
    offset += byteLength;
    return value;
  };

  // Blocks of a [rows, in] weight as MatMulNBits initializers named after `base` (made only when not cached).
  const blocksOf = (bitsHere: 4 | 8, t: () => Tensor32) => (cached ? undefined : bitsHere === 4 ? blocksQ4(t()) : blocksQ8(t()));
  const nbits = (g: GraphBuilder, base: string, bits: 4 | 8, blocks: Blocks | undefined, rows: number, inFeatures: number) => {
    const kBlocks = inFeatures / BLOCK;
    const zeroPoints = bits === 4 ? rows * Math.ceil(kBlocks / 2) : rows * kBlocks;
    const weight: NbitsWeight = {
      kind: 'nbits',
      bits,
      blockSize: BLOCK,
      inFeatures,
      outFeatures: rows,
      // Only the int8-activation kernels are prepacked on x64 in ORT 1.30; accuracy_level 0 dequantizes
      // every block on every run (~25x slower at decode).
      accuracyLevel: 4,
      qweight: external(g, `${base}.qweight`, 'uint8', [rows, kBlocks, (BLOCK * bits) / 8], blocks?.qweight),
      scales: external(g, `${base}.scales`, 'float32', [rows * kBlocks], blocks?.scales),
      zeroPoints: external(g, `${base}.zero_points`, 'uint8', [zeroPoints], blocks?.zeroPoints),
    };
    if (bits === 4) weight.blockMins = external(g, `${base}.mins`, 'float32', [kBlocks, rows], blocks?.mins);
    return weight;
  };
  // A lazily read weight is read for quantizing without being kept: the fp32 projections never all sit in memory.
  const fp32 = (t: Tensor32) => t.read?.() ?? t.data;
  const tensor = (name: string) => {
    const t = weights.get(name);
    if (!t) throw new Error(`model weights: missing tensor '${name}'`);
    return t;
  };

  const linearWeight = (g: GraphBuilder, name: string, inFeatures: number, outFeatures: number): LinearWeight | undefined => {
    if (inFeatures % BLOCK !== 0) return undefined;
    const t = tensor(name);
    const isHead = name === 'lm_head.weight' || name === 'model.embed_tokens.weight';
    const b = isHead ? 8 : bits;
    // A tied head is the embedding table, which the graph also takes in fp32 for the lookup: read it once, and keep it.
    const data = () => (name === 'model.embed_tokens.weight' ? t.data : fp32(t));
    return nbits(
      g,
      `${name}.q${b}`,
      b,
      blocksOf(b, () => ({ dims: t.dims, data: data() })),
      outFeatures,
      inFeatures,
    );
  };

  // q, k, v (or gate, up) stacked by rows into one 4-bit weight: the blocks run along `in`, so stacking rows changes no
  // block, and the product's columns are the projections' outputs side by side.
  const linearGroup = (g: GraphBuilder, names: string[], inFeatures: number, outFeatures: number[]) => {
    if (inFeatures % BLOCK !== 0) return undefined;
    const rows = outFeatures.reduce((a, b) => a + b, 0);
    const stacked = () => {
      const data = new Float32Array(rows * inFeatures);
      let at = 0;
      for (const name of names) {
        const t = fp32(tensor(name));
        data.set(t, at);
        at += t.length;
      }
      return { data, dims: [rows, inFeatures] };
    };
    for (const name of names) tensor(name);
    return nbits(g, `${names.join('+')}.q${bits}`, bits, blocksOf(bits, stacked), rows, inFeatures);
  };

  const externalData = () => {
    // A model with no block-aligned projection has nothing in the file; ORT refuses an empty buffer.
    if (offset === 0) return [];
    if (cached) {
      if (cached.byteLength !== offset) throw new QuantCacheMismatch(`cached ${cached.byteLength} bytes, the graph lays out ${offset}`);
      return [{ path: EXTERNAL_FILE, data: cached }];
    }
    const data = new Uint8Array(offset);
    let at = 0;
    for (const c of chunks) {
      data.set(c, at);
      at += c.byteLength;
    }
    chunks.length = 0;
    return [{ path: EXTERNAL_FILE, data }];
  };
  return { linearWeight, linearGroup, externalData };
}

/**
 * Asymmetric 4-bit blocks along `in` (Q4_1): value = min + q·scale with scale = (max - min) / 15.
 * Codes go to MatMulNBits with zero point 8; the block offsets become a separate `[kBlocks, rows]` term.
 */
export function blocksQ4(t: Tensor32): Blocks {
  const [rows, cols] = t.dims;
  const kBlocks = cols / BLOCK;
  const qweight = new Uint8Array(rows * kBlocks * (BLOCK / 2));
  const scales = new Float32Array(rows * kBlocks);
  const mins = new Float32Array(kBlocks * rows);
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
      // Codes centred on the zero point 8: value = (q - 8)·scale + (min + 8·scale). Same numbers, but the
      // two terms no longer nearly cancel, which matters when MatMulNBits quantizes activations to int8.
      mins[b * rows + r] = min + 8 * scale;
      // MatMulNBits packs consecutive elements low nibble first (GGUF pairs j with j+16 instead).
      for (let i = 0; i < BLOCK; i += 2) {
        const q0 = Math.min(15, Math.max(0, roundHalfUp((t.data[start + i] - min) / scale)));
        const q1 = Math.min(15, Math.max(0, roundHalfUp((t.data[start + i + 1] - min) / scale)));
        qweight[blockIndex * (BLOCK / 2) + i / 2] = q0 | (q1 << 4);
      }
    }
  }
  return { qweight, scales, zeroPoints: new Uint8Array(rows * Math.ceil(kBlocks / 2)).fill(0x88), mins };
}

/**
 * Math.round (halves toward +infinity) without a branch, for |v| < 2^31: v - trunc(v) is exact, and which way a weight
 * rounds is a coin toss, so Math.round's (and an if's) mispredicted branches took ~60% of quantizing SmolLM2 to q8
 * (1.5 s of the 2 s it added to loading).
 */
export function roundHalfUp(v: number): number {
  const q = v | 0;
  const f = v - q;
  return q + Number(f >= 0.5) - Number(f < -0.5);
}

/** Symmetric 8-bit blocks along `in` (Q8_0): scale = max|x| / 127, codes offset by the zero point 128. */
export function blocksQ8(t: Tensor32): Blocks {
  const [rows, cols] = t.dims;
  const kBlocks = cols / BLOCK;
  const qweight = new Uint8Array(rows * cols);
  const scales = new Float32Array(rows * kBlocks);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < kBlocks; b++) {
      const start = r * cols + b * BLOCK;
      let amax = 0;
      for (let i = 0; i < BLOCK; i++) amax = Math.max(amax, Math.abs(t.data[start + i]));
      const scale = amax > 0 ? amax / 127 : 1;
      scales[r * kBlocks + b] = scale;
      for (let i = 0; i < BLOCK; i++) qweight[start + i] = roundHalfUp(t.data[start + i] / scale) + 128;
    }
  }
  return { qweight, scales, zeroPoints: new Uint8Array(rows * kBlocks).fill(128) };
}
