import { batchedLoraDelta } from '../train/batched-lora.js';
import { Ops } from '../train/ops.js';
import type { GraphBuilder } from './builder.js';

/**
 * Forward primitives of the Llama family, one per op family. Each takes value names and returns
 * the name of its result, so `llama.ts` reads as the model's description.
 *
 * Conventions: the residual stream is 2-D `[tokens, hidden]` (batch and sequence folded), which lets
 * every projection be one Gemm with `transB` on weights stored `[out, in]` as in Hugging Face.
 */

/** RMSNorm (Llama): x / sqrt(mean(x²) + eps) · weight, over the last axis. */
export function rmsNorm(g: GraphBuilder, x: string, weight: string, eps: number): string {
  const meanSquare = g.op('ReduceMean', [g.op('Pow', [x, g.scalar(2)]), g.ints([-1])], { keepdims: 1 });
  const normed = g.op('Div', [x, g.op('Sqrt', [g.op('Add', [meanSquare, g.scalar(eps)])])]);
  return g.op('Mul', [normed, weight]);
}

/**
 * Where a projection's weight comes from.
 * - `dense`: an fp32 value `[out, in]` (graph input or initializer).
 * - `nbits`: com.microsoft MatMulNBits blocks along `in` (value = (q - zeroPoint) · scale).
 */
export type LinearWeight = { kind: 'dense'; weight: string } | NbitsWeight;

/** com.microsoft MatMulNBits blocks along `in` (value = (q - zeroPoint) · scale). */
export interface NbitsWeight {
  kind: 'nbits';
  qweight: string;
  scales: string;
  zeroPoints: string;
  bits: 4 | 8;
  blockSize: number;
  inFeatures: number;
  outFeatures: number;
  /** MatMulNBits accuracy_level: 0 = fp32 compute on dequantized blocks, 4 = int8 activations. */
  accuracyLevel: 0 | 4;
  /**
   * Per-block minimums `[in / blockSize, out]` of an asymmetric (Q4_1-style) scheme, added as
   * blockSums(x)·mins: MatMulNBits then only needs integer zero points, which keep its fast
   * prepacked kernels (float zero points force an unpacked, dequantize-every-run path).
   */
  blockMins?: string;
}

/**
 * LoRA factors as values: A `[r, in]`, B `[out, r]` with the scale folded into B; r may be 0.
 * `perRow`: one pair per row of the batch, A `[batch, r, in]`, B `[batch, out, r]`, and x's `[batch·seq]` token rows
 * are batch-major, so row b's tokens go through row b's pair (the training graph's G-adapters branch).
 */
export interface LoraValues {
  a: string;
  b: string;
  perRow?: boolean;
}

/** x `[n, in]` → x·Wᵀ (+ bias) (+ (x·Aᵀ)·Bᵀ). */
export function linear(g: GraphBuilder, x: string, w: LinearWeight, bias?: string, lora?: LoraValues): string {
  const delta = lora ? loraDelta(g, x, lora) : undefined;
  if (w.kind === 'dense') {
    // Gemm's C input folds one addend in for free; a second one needs an Add.
    const addend = delta && bias ? g.op('Add', [delta, bias]) : (delta ?? bias);
    return g.op('Gemm', addend ? [x, w.weight, addend] : [x, w.weight], { transB: 1 });
  }
  return addTerms(g, nbitsProduct(g, x, w), bias, delta);
}

/**
 * Several projections of one input through one MatMulNBits whose rows are theirs stacked (q, k, v; gate, up): one
 * product and one block-offset term instead of one each, then split. Each part then gets its own bias and LoRA delta.
 */
export function linearGroup(
  g: GraphBuilder,
  x: string,
  w: NbitsWeight,
  parts: Array<{ outFeatures: number; bias?: string; lora?: LoraValues }>,
): string[] {
  const y = nbitsProduct(g, x, w);
  const outs = g.opMulti('Split', [y, g.ints(parts.map((p) => p.outFeatures))], { axis: -1 }, parts.length);
  return outs.map((out, i) => addTerms(g, out, parts[i].bias, parts[i].lora ? loraDelta(g, x, parts[i].lora) : undefined));
}

function loraDelta(g: GraphBuilder, x: string, lora: LoraValues): string {
  return lora.perRow
    ? batchedLoraDelta(new Ops(g, 'float32'), x, lora.a, lora.b)
    : g.op('Gemm', [g.op('Gemm', [x, lora.a], { transB: 1 }), lora.b], { transB: 1 });
}

function addTerms(g: GraphBuilder, y: string, bias?: string, delta?: string): string {
  const withBias = bias ? g.op('Add', [y, bias]) : y;
  return delta ? g.op('Add', [withBias, delta]) : withBias;
}

/** x·Wᵀ through MatMulNBits, plus the block-offset term of an asymmetric scheme. */
function nbitsProduct(g: GraphBuilder, x: string, w: NbitsWeight): string {
  const y = g.op(
    'MatMulNBits',
    [x, w.qweight, w.scales, w.zeroPoints],
    {
      K: w.inFeatures,
      N: w.outFeatures,
      bits: w.bits,
      block_size: w.blockSize,
      accuracy_level: w.accuracyLevel,
    },
    1,
    'com.microsoft',
  );
  if (!w.blockMins) return y;
  const blocks = g.op('Reshape', [x, g.ints([0, w.inFeatures / w.blockSize, w.blockSize])]);
  const blockSums = g.op('ReduceSum', [blocks, g.ints([-1])], { keepdims: 0 });
  return g.op('Add', [y, g.op('MatMul', [blockSums, w.blockMins])]);
}

/** SiLU-gated unit of the Llama MLP: silu(gate) · up. */
export function swiGlu(g: GraphBuilder, gate: string, up: string): string {
  return g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
}

/** Token embedding lookup: ids `[b, s]` → `[b·s, hidden]`. */
export function embed(g: GraphBuilder, table: string, ids: string): string {
  return g.op('Gather', [table, g.op('Reshape', [ids, g.ints([-1])])], { axis: 0 });
}

/**
 * cos and sin of every position's angles, `[positions, headDim / 2]`, for com.microsoft::RotaryEmbedding. Angles are
 * float32 products, as a graph computing them from the positions would make.
 */
export function ropeCaches(g: GraphBuilder, invFreq: Float32Array, positions: number): { cos: string; sin: string } {
  const half = invFreq.length;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let t = 0; t < positions; t++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(t * invFreq[i]);
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  return {
    cos: g.initializer(g.fresh('rope_cos'), { dtype: 'float32', dims: [positions, half], data: cos }),
    sin: g.initializer(g.fresh('rope_sin'), { dtype: 'float32', dims: [positions, half], data: sin }),
  };
}

/**
 * Rotary position embedding in the Hugging Face layout (rotate_half: the two halves of each head are the pair) on
 * x `[b, s, heads·d]`, by position id `[b, s]`: one com.microsoft::RotaryEmbedding instead of eight elementwise ops.
 */
export function rotary(g: GraphBuilder, x: string, positionIds: string, caches: { cos: string; sin: string }, heads: number): string {
  return g.op('RotaryEmbedding', [x, positionIds, caches.cos, caches.sin], { interleaved: 0, num_heads: heads }, 1, 'com.microsoft');
}

/** Boolean `[s, past + s]`: true where the key comes after the query (the past's columns never do). */
function futureKeys(g: GraphBuilder, seqLen: string, pastLen: string): string {
  const queryPos = g.op('Add', [g.op('Range', [g.int(0), seqLen, g.int(1)]), pastLen]);
  const keyPos = g.op('Range', [g.int(0), g.op('Add', [seqLen, pastLen]), g.int(1)]);
  return g.op('Greater', [keyPos, g.op('Unsqueeze', [queryPos, g.ints([1])])]);
}

/**
 * Additive mask `[b, 1, group·s, past + s]` for rows of different lengths in one batch: a key is seen when it is not
 * after the query (columns are shared by all rows) and `attentionMask` `[b, past + s]` (int64, 1 = real token) marks it.
 * `past` is the cache's capacity: its columns past a row's tokens are 0 in `attentionMask`. The s query rows repeat
 * `group` times, the layout of `groupedAttention`'s scores (each KV head's query heads, then the positions), so one
 * mask serves every layer.
 * Masked scores get float32's lowest value rather than -inf: a padding query (a shorter row's left padding) then
 * sees uniform weights instead of NaN, and its finite states never poison the later steps that mask them out. A real
 * query always sees itself, so exp(lowest - max) = 0 leaves its softmax equal to the unpadded one.
 */
export function paddedCausalMask(g: GraphBuilder, attentionMask: string, seqLen: string, pastLen: string, group: number): string {
  const padded = g.op('Equal', [attentionMask, g.int(0)]);
  const hidden = g.op('Or', [futureKeys(g, seqLen, pastLen), g.op('Unsqueeze', [padded, g.ints([1])])]);
  const additive = g.op('Where', [hidden, g.scalar(-3.4028234663852886e38), g.scalar(0)]);
  return g.op('Tile', [g.op('Unsqueeze', [additive, g.ints([1])]), g.ints([1, 1, group, 1])]);
}

export interface AttentionShape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
}

/**
 * Scaled dot-product attention with grouped KV heads over a cache and the new tokens. q `[b, s, H, d]` (rotated);
 * `past` k and v `[b, Hkv, C, d]` (the cache, C columns of capacity), `fresh` k and v `[b, Hkv, s, d]` (the new
 * tokens'); mask `[b, 1, group·s, C + s]` (`paddedCausalMask`); `columns` int64 `[C, s]`. The query heads sharing a
 * KV head are its rows (head h uses KV head floor(h / (H / Hkv)), as Hugging Face's repeat_kv), so K and V are never
 * copied; the scores over cache and new tokens are one softmax, split again for the two value products, so the cache
 * is read where it is and never concatenated with the new tokens. Returns `[b, s, H·d]`.
 */
export function groupedAttention(
  g: GraphBuilder,
  q: string,
  past: { k: string; v: string },
  fresh: { k: string; v: string },
  mask: string,
  columns: string,
  shape: AttentionShape,
  batchSeq: string,
): string {
  const { numHeads, numKvHeads, headDim } = shape;
  const group = numHeads / numKvHeads;
  // [b, s, Hkv, group, d] -> [b, Hkv, group, s, d] -> [b, Hkv, group·s, d]
  const grouped = g.op('Transpose', [g.op('Reshape', [q, g.ints([0, 0, numKvHeads, group, headDim])])], { perm: [0, 2, 3, 1, 4] });
  const qg = g.op('Reshape', [grouped, g.ints([0, numKvHeads, -1, headDim])]);
  const scaled = g.op('Mul', [qg, g.scalar(1 / Math.sqrt(headDim))]);
  // The transpose feeds the MatMul directly: ORT folds it into the product (FusedMatMul transB).
  const scoresOf = (k: string) => g.op('MatMul', [scaled, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]);
  const scores = g.op('Concat', [scoresOf(past.k), scoresOf(fresh.k)], { axis: -1 });
  const probs = g.op('Softmax', [g.op('Add', [scores, mask])], { axis: -1 });
  const [pPast, pFresh] = g.opMulti('Split', [probs, columns], { axis: -1 }, 2);
  const ctx = g.op('Add', [g.op('MatMul', [pPast, past.v]), g.op('MatMul', [pFresh, fresh.v])]);
  // [b, Hkv, group·s, d] -> [b, Hkv, group, s, d] -> [b, s, Hkv, group, d]
  const back = g.op('Transpose', [g.op('Reshape', [ctx, g.ints([0, numKvHeads, group, -1, headDim])])], { perm: [0, 3, 1, 2, 4] });
  return g.op('Reshape', [back, g.op('Concat', [batchSeq, g.ints([numHeads * headDim])], { axis: 0 })]);
}
