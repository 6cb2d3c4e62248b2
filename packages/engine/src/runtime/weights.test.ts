import { describe, expect, it } from 'vitest';
import { referenceForward } from '../reference/llama.js';
import { randomLlamaWeights, tinyLlamaConfig } from '../train/tiny-model.js';
import { OrtCausalLM } from './causal-lm.js';
import { blocksQ4, blocksQ8, roundHalfUp } from './weights.js';

/** Values of a MatMulNBits 4-bit block layout with block offsets, decoded independently. */
function decodeQ4(rows: number, cols: number, b: ReturnType<typeof blocksQ4>): Float32Array {
  const out = new Float32Array(rows * cols);
  const kBlocks = cols / 32;
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < cols; i++) {
      const blk = r * kBlocks + Math.floor(i / 32);
      const byte = b.qweight[blk * 16 + Math.floor((i % 32) / 2)];
      const q = i % 2 === 0 ? byte & 15 : byte >> 4;
      const zpByte = b.zeroPoints[r * Math.ceil(kBlocks / 2) + Math.floor((blk % kBlocks) / 2)];
      const zp = (blk % kBlocks) % 2 === 0 ? zpByte & 15 : zpByte >> 4;
      out[r * cols + i] = (q - zp) * b.scales[blk] + (b.mins?.[Math.floor(i / 32) * rows + r] ?? 0);
    }
  }
  return out;
}

describe('roundHalfUp', () => {
  it('equals Math.round on halves, near-halves, signs and random values', () => {
    const edge = [0, -0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994, 127, -127, 126.5, -126.5];
    const rand = Array.from({ length: 10_000 }, (_, i) => Math.sin(i * 12.9898) * 130);
    for (const v of [...edge, ...rand]) expect(roundHalfUp(v) + 0, String(v)).toBe(Math.round(v) + 0);
  });
});

describe('MatMulNBits blocks', () => {
  it('recover Q4_1-representable weights exactly (codes 0..15 per block of 32, GGUF-style scale and min)', () => {
    const rows = 3;
    const cols = 64;
    const data = new Float32Array(rows * cols);
    for (let blk = 0; blk < (rows * cols) / 32; blk++) {
      const scale = 0.01 * (blk + 1);
      const min = -0.1 * blk;
      for (let i = 0; i < 32; i++) data[blk * 32 + i] = min + ((i * 7 + blk) % 16) * scale;
    }
    const decoded = decodeQ4(rows, cols, blocksQ4({ dims: [rows, cols], data }));
    for (let i = 0; i < data.length; i++) expect(Math.abs(decoded[i] - data[i])).toBeLessThan(1e-6);
  });

  it('recover Q8_0-representable weights exactly (symmetric codes around 128)', () => {
    // Codes in -127..127 with |code| = 127 present in each block, as Q8_0 writes them.
    const data = Float32Array.from({ length: 64 }, (_, i) => (i % 32 === 0 ? 127 : ((i * 37) % 255) - 127) * (i < 32 ? 0.003 : 0.02));
    const b = blocksQ8({ dims: [1, 64], data });
    for (let i = 0; i < 64; i++)
      expect(Math.abs((b.qweight[i] - b.zeroPoints[0]) * b.scales[Math.floor(i / 32)] - data[i])).toBeLessThan(1e-6);
  });

  it("'q4' forward stays close to the float64 reference on the quantized weights", async () => {
    const config = tinyLlamaConfig({ hiddenSize: 64, intermediateSize: 96, numHeads: 4, numKvHeads: 2, headDim: 16, vocabSize: 48 });
    const weights = randomLlamaWeights(config, 4);
    // Quantize once in TS, so both sides see the same 4-bit weights.
    for (const [name, t] of weights) {
      if (t.dims.length === 2 && !name.includes('embed') && t.dims[1] % 32 === 0) {
        weights.set(name, { dims: t.dims, data: decodeQ4(t.dims[0], t.dims[1], blocksQ4(t)) });
      }
    }
    const lm = await OrtCausalLM.load(config, weights, { threads: 1, weightFormat: 'q4' });
    const ids = [1, 5, 9, 13, 40, 2];
    const got = (await lm.forward({ ids, numLogits: ids.length })).logits;
    const want = referenceForward(config, weights, ids).flatMap((r) => Array.from(r));
    const scale = Math.max(...want.map(Math.abs));
    const err = Math.max(...want.map((v, i) => Math.abs(v - got[i])));
    // int8 activations: a few percent of the logit range, far from the exact path's 1e-6.
    expect(err / scale).toBeLessThan(0.05);
    expect(err / scale).toBeGreaterThan(1e-7);
  });

  it("'q8' forward stays close to the reference on the 8-bit weights, and nearer the f32 model than 'q4'", async () => {
    const config = tinyLlamaConfig({ hiddenSize: 64, intermediateSize: 96, numHeads: 4, numKvHeads: 2, headDim: 16, vocabSize: 48 });
    const weights = randomLlamaWeights(config, 4);
    const ids = [1, 5, 9, 13, 40, 2];
    const logits = async (format: 'f32' | 'q4' | 'q8') =>
      Array.from(
        (await (await OrtCausalLM.load(config, weights, { threads: 1, weightFormat: format })).forward({ ids, numLogits: ids.length }))
          .logits,
      );
    const exact = await logits('f32');
    const scale = Math.max(...exact.map(Math.abs));
    const relErr = (got: number[]) => Math.max(...exact.map((v, i) => Math.abs(v - got[i]))) / scale;
    const q8 = relErr(await logits('q8'));
    const q4 = relErr(await logits('q4'));
    expect(q8).toBeGreaterThan(1e-7);
    expect(q8).toBeLessThan(0.05);
    expect(q8).toBeLessThan(q4);

    // Against the float64 reference on the 8-bit weights themselves (decoded in TS): only the int8 activations differ.
    const decoded = new Map(weights);
    for (const [name, t] of weights) {
      if (t.dims.length === 2 && t.dims[1] % 32 === 0) {
        const b = blocksQ8(t);
        const kBlocks = t.dims[1] / 32;
        decoded.set(name, {
          dims: t.dims,
          data: Float32Array.from(
            b.qweight,
            (q, i) => (q - 128) * b.scales[Math.floor(i / t.dims[1]) * kBlocks + Math.floor((i % t.dims[1]) / 32)],
          ),
        });
      }
    }
    const lm = await OrtCausalLM.load(config, decoded, { threads: 1, weightFormat: 'q8' });
    const got = (await lm.forward({ ids, numLogits: ids.length })).logits;
    const want = referenceForward(config, decoded, ids).flatMap((r) => Array.from(r));
    const err = Math.max(...want.map((v, i) => Math.abs(v - got[i]))) / Math.max(...want.map(Math.abs));
    expect(err).toBeLessThan(0.05);
  });

  it('a model whose projections no block of 32 divides loads in every format and computes as f32 (nothing to quantize)', async () => {
    // hidden 16: every projection stays f32, and the LM head's K = 16 too; the session has no external data at all.
    const config = tinyLlamaConfig();
    const weights = randomLlamaWeights(config, 5);
    const ids = [1, 5, 9];
    const logits = async (format: 'f32' | 'q4' | 'q8') => {
      const lm = await OrtCausalLM.load(config, weights, { threads: 1, weightFormat: format });
      try {
        return Array.from((await lm.forward({ ids, numLogits: ids.length })).logits);
      } finally {
        await lm.dispose();
      }
    };
    const exact = await logits('f32');
    expect(await logits('q8')).toEqual(exact);
    expect(await logits('q4')).toEqual(exact);
  });
});
