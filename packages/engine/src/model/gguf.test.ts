import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelWeights } from './config.js';
import { type GgufFile, ggufConfig, readGguf, readGgufQuantized, readGgufWeights } from './gguf.js';
import { checkWeights } from './hf.js';
import { loadModel } from './load.js';
import { ensureModel } from './pull.js';
import { dequantize } from './quants.js';
import { type GgufTensorToWrite, type GgufValue, tinyVocab, writeGguf } from './test-helpers/model-files.js';

const fixtureDir = new URL('../../fixtures/', import.meta.url);
const transformersRef = JSON.parse(readFileSync(new URL('smollm2-reference.json', fixtureDir), 'utf8'));
const ggufRef = JSON.parse(readFileSync(new URL('gguf-reference.json', fixtureDir), 'utf8')) as {
  rows: Record<string, { type: string; rows: Record<string, { first: number[]; sha256: string; length: number }> }>;
};

const sha256 = (a: Float32Array) =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

describe('GGUF: SmolLM2-135M-Instruct Q4_1 (pulled on first use)', () => {
  let file: GgufFile;
  let weights: ModelWeights;
  beforeAll(async () => {
    file = await readGguf(await ensureModel());
    weights = readGgufWeights(file, ggufConfig(file));
  });

  it('resolves the config from metadata', () => {
    expect(ggufConfig(file)).toEqual({
      architecture: 'llama',
      vocabSize: 49152,
      hiddenSize: 576,
      intermediateSize: 1536,
      numLayers: 30,
      numHeads: 9,
      numKvHeads: 3,
      headDim: 64,
      rmsNormEps: Math.fround(1e-5),
      ropeTheta: 100000,
      ropeScaling: null,
      maxPositionEmbeddings: 8192,
      tieWordEmbeddings: true,
      attentionBias: false,
      bosTokenId: 1,
      eosTokenIds: [2],
    });
  });

  it('holds every tensor the config implies, by Hugging Face name', () => {
    expect(() => checkWeights(ggufConfig(file), weights, file.path)).not.toThrow();
    expect(weights.size).toBe(2 + 30 * 9);
  });

  it('reads each tensor when first used and keeps it; read() gives a fresh copy until then, the kept one after', () => {
    const t = weights.get('model.layers.29.mlp.down_proj.weight')!;
    const [a, b] = [t.read!(), t.read!()];
    expect(a).not.toBe(b);
    expect(sha256(a)).toBe(sha256(b));
    const kept = t.data;
    expect(t.data).toBe(kept);
    expect(t.read!()).toBe(kept);
    expect(sha256(kept)).toBe(sha256(a));
  });

  it('equals transformers’ dequantized, un-permuted weights bit for bit (Q, K, embeddings)', () => {
    for (const [name, ref] of Object.entries(transformersRef.weights) as [string, { dims: number[]; sha256: string }][]) {
      const t = weights.get(name)!;
      expect(t.dims, name).toEqual(ref.dims);
      expect(sha256(t.data), name).toBe(ref.sha256);
    }
  });

  it('equals the Python gguf package’s dequantized rows (GGUF row order)', () => {
    const hfName: Record<string, string> = {
      'token_embd.weight': 'model.embed_tokens.weight',
      'blk.0.ffn_down.weight': 'model.layers.0.mlp.down_proj.weight',
      'blk.29.attn_v.weight': 'model.layers.29.self_attn.v_proj.weight',
      'blk.0.attn_q.weight': 'model.layers.0.self_attn.q_proj.weight',
      'output_norm.weight': 'model.norm.weight',
    };
    // llama.cpp row 2j+s of a q head is Hugging Face row s*32+j (head dim 64).
    const hfRow = (name: string, row: number) =>
      name === 'blk.0.attn_q.weight' ? 64 * Math.floor(row / 64) + ((row % 64) % 2) * 32 + Math.floor((row % 64) / 2) : row;
    for (const [name, { rows }] of Object.entries(ggufRef.rows)) {
      const t = weights.get(hfName[name])!;
      const width = t.dims.length === 1 ? t.dims[0] : t.dims[1];
      for (const [row, ref] of Object.entries(rows)) {
        const r = hfRow(name, Number(row));
        const data = t.data.subarray(r * width, (r + 1) * width);
        expect(data.length).toBe(ref.length);
        expect(Array.from(data.subarray(0, 64)), `${name} row ${row}`).toEqual(ref.first);
        expect(sha256(data), `${name} row ${row}`).toBe(ref.sha256);
      }
    }
  });

  it('gives the stored Q4_1 / Q8_0 blocks, rows in Hugging Face order, dequantizing to the same weights', () => {
    const names = [
      'model.layers.3.self_attn.q_proj.weight',
      'model.layers.3.self_attn.k_proj.weight',
      'model.layers.3.mlp.down_proj.weight',
    ];
    const raw = readGgufQuantized(file, ggufConfig(file), [...names, 'model.embed_tokens.weight']);
    for (const name of names) {
      const q = raw.get(name)!;
      expect(q.type).toBe('Q4_1');
      expect(q.dims).toEqual(weights.get(name)!.dims);
      expect(q.data.byteLength).toBe(((q.dims[0] * q.dims[1]) / 32) * 20);
      expect(sha256(dequantize(q.type, q.data, q.dims[0] * q.dims[1])), name).toBe(sha256(weights.get(name)!.data));
    }
    expect(raw.get('model.embed_tokens.weight')!.type).toBe('Q8_0');
  });
});

// A tiny Llama in GGUF form, written by the test: 4 heads of 8, 2 KV heads, 1 layer.
const H = 32;
const HEADS = 4;
const KV = 2;
const HD = 8;
const FFN = 48;
const specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
const vocab = tinyVocab(specials, ['Ġ t', 'h e']);

function random(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31 - 0.5;
  });
}

/** llama.cpp's converter permutation: Hugging Face row s*hd/2+j of a head becomes row 2j+s. */
function llamaCppPermute(w: Float32Array, rows: number, heads: number): Float32Array {
  const cols = w.length / rows;
  const hd = rows / heads;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++)
    for (let s = 0; s < 2; s++)
      for (let j = 0; j < hd / 2; j++)
        out.set(w.subarray((h * hd + s * (hd / 2) + j) * cols, (h * hd + s * (hd / 2) + j + 1) * cols), (h * hd + 2 * j + s) * cols);
  return out;
}

interface TinyOptions {
  arch?: 'llama' | 'qwen2';
  version?: number;
  metadata?: Record<string, GgufValue>;
  typeOf?: (name: string) => number;
  extra?: GgufTensorToWrite[];
}

function tinyModel(o: TinyOptions = {}) {
  const arch = o.arch ?? 'llama';
  const hf = new Map<string, { dims: number[]; data: Float32Array }>();
  const tensors: GgufTensorToWrite[] = [...(o.extra ?? [])];
  let seed = 1;
  // Only llama.cpp's `llama` converter permutes Q/K rows.
  const add = (ggufName: string, hfName: string, dims: number[], permuteHeads = 0) => {
    const data = random(
      dims.reduce((a, b) => a * b, 1),
      seed++,
    );
    hf.set(hfName, { dims, data });
    const stored = permuteHeads && arch === 'llama' ? llamaCppPermute(data, dims[0], permuteHeads) : data;
    tensors.push({ name: ggufName, type: o.typeOf?.(ggufName) ?? 0, dims: [...dims].reverse(), data: new Uint8Array(stored.buffer) });
  };
  add('token_embd.weight', 'model.embed_tokens.weight', [vocab.length, H]);
  add('blk.0.attn_norm.weight', 'model.layers.0.input_layernorm.weight', [H]);
  add('blk.0.attn_q.weight', 'model.layers.0.self_attn.q_proj.weight', [HEADS * HD, H], HEADS);
  add('blk.0.attn_k.weight', 'model.layers.0.self_attn.k_proj.weight', [KV * HD, H], KV);
  add('blk.0.attn_v.weight', 'model.layers.0.self_attn.v_proj.weight', [KV * HD, H]);
  if (arch === 'qwen2') {
    add('blk.0.attn_q.bias', 'model.layers.0.self_attn.q_proj.bias', [HEADS * HD]);
    add('blk.0.attn_k.bias', 'model.layers.0.self_attn.k_proj.bias', [KV * HD]);
    add('blk.0.attn_v.bias', 'model.layers.0.self_attn.v_proj.bias', [KV * HD]);
  }
  add('blk.0.attn_output.weight', 'model.layers.0.self_attn.o_proj.weight', [H, HEADS * HD]);
  add('blk.0.ffn_norm.weight', 'model.layers.0.post_attention_layernorm.weight', [H]);
  add('blk.0.ffn_gate.weight', 'model.layers.0.mlp.gate_proj.weight', [FFN, H]);
  add('blk.0.ffn_up.weight', 'model.layers.0.mlp.up_proj.weight', [FFN, H]);
  add('blk.0.ffn_down.weight', 'model.layers.0.mlp.down_proj.weight', [H, FFN]);
  add('output_norm.weight', 'model.norm.weight', [H]);
  add('output.weight', 'lm_head.weight', [vocab.length, H]);
  const metadata: Record<string, GgufValue> = {
    'general.architecture': { type: 'string', value: arch },
    [`${arch}.block_count`]: { type: 'u32', value: 1 },
    [`${arch}.context_length`]: { type: 'u32', value: 256 },
    [`${arch}.embedding_length`]: { type: 'u32', value: H },
    [`${arch}.feed_forward_length`]: { type: 'u32', value: FFN },
    [`${arch}.attention.head_count`]: { type: 'u32', value: HEADS },
    [`${arch}.attention.head_count_kv`]: { type: 'u32', value: KV },
    [`${arch}.attention.layer_norm_rms_epsilon`]: { type: 'f32', value: 1e-6 },
    [`${arch}.rope.freq_base`]: { type: 'f32', value: 10000 },
    'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
    'tokenizer.ggml.pre': { type: 'string', value: 'smollm' },
    'tokenizer.ggml.tokens': { type: 'strings', value: vocab },
    'tokenizer.ggml.token_type': { type: 'i32s', value: vocab.map((_, i) => (i < specials.length ? 3 : 1)) },
    'tokenizer.ggml.merges': { type: 'strings', value: ['Ġ t', 'h e'] },
    'tokenizer.ggml.bos_token_id': { type: 'u32', value: 1 },
    'tokenizer.ggml.eos_token_id': { type: 'u32', value: 2 },
    ...o.metadata,
  };
  return { bytes: writeGguf(metadata, tensors, o.version), hf };
}

const root = mkdtempSync(join(tmpdir(), 'rg-gguf-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function writeTemp(bytes: Uint8Array, name = 'model.gguf'): string {
  const path = join(mkdtempSync(join(root, 'case-')), name);
  writeFileSync(path, bytes);
  return path;
}

describe('GGUF: a tiny model written by the test', () => {
  it('maps names, reverses dims to [out, in] and undoes llama.cpp’s Q/K row permutation', async () => {
    const { bytes, hf } = tinyModel();
    const file = await readGguf(writeTemp(bytes));
    const config = ggufConfig(file);
    expect(config).toMatchObject({ numHeads: HEADS, numKvHeads: KV, headDim: HD, tieWordEmbeddings: false, vocabSize: vocab.length });
    const weights = readGgufWeights(file, config);
    expect([...weights.keys()].sort()).toEqual([...hf.keys()].sort());
    for (const [name, t] of hf) {
      expect(weights.get(name)!.dims, name).toEqual(t.dims);
      expect(Array.from(weights.get(name)!.data), name).toEqual(Array.from(t.data));
    }
  });

  it('reads GGUF v2 the same way, and refuses other versions', async () => {
    const v2 = tinyModel({ version: 2 });
    const file = await readGguf(writeTemp(v2.bytes));
    expect(file.version).toBe(2);
    expect(Array.from(readGgufWeights(file, ggufConfig(file)).get('model.layers.0.self_attn.q_proj.weight')!.data)).toEqual(
      Array.from(v2.hf.get('model.layers.0.self_attn.q_proj.weight')!.data),
    );
    const v4 = writeTemp(tinyModel({ version: 4 }).bytes);
    // The parser itself refuses versions it does not know; the message still names the file.
    await expect(readGguf(v4)).rejects.toThrow(new RegExp(`^${v4}: .*version "?4`));
  });

  it('refuses a file cut short inside the tensor data, naming the tensor', async () => {
    const { bytes } = tinyModel();
    const path = writeTemp(bytes.subarray(0, bytes.byteLength - 100));
    await expect(readGguf(path)).rejects.toThrow(
      new RegExp(`${path}: truncated: tensor "output.weight" ends at byte \\d+ of a \\d+-byte file`),
    );
  });

  it('refuses a file cut short inside the header', async () => {
    const { bytes } = tinyModel();
    const path = writeTemp(bytes.subarray(0, 600));
    await expect(readGguf(path)).rejects.toThrow(new RegExp(`${path}: (truncated|corrupt)`));
  });

  it('refuses a file that is not GGUF', async () => {
    const path = writeTemp(new TextEncoder().encode('PK\u0003\u0004 definitely not a model'));
    await expect(readGguf(path)).rejects.toThrow(`${path}: not a readable GGUF file`);
    await expect(readGguf(join(tmpdir(), 'rg-no-such-file.gguf'))).rejects.toThrow('no such file');
  });

  it('refuses an unknown architecture', async () => {
    const { bytes } = tinyModel({ metadata: { 'general.architecture': { type: 'string', value: 'gpt2' } } });
    const file = await readGguf(writeTemp(bytes));
    expect(() => ggufConfig(file)).toThrow(`${file.path}: unknown architecture "gpt2"`);
  });

  it('refuses an unknown quantization type, naming the tensor and the type', async () => {
    // Q5_K (id 13) is a real ggml type rg does not read; the byte count check comes after the type check.
    const { bytes } = tinyModel({ typeOf: (n) => (n === 'blk.0.ffn_up.weight' ? 13 : 0) });
    const path = writeTemp(bytes);
    await expect(readGguf(path)).rejects.toThrow(`${path}: tensor "blk.0.ffn_up.weight" has quantization type Q5_K, which rg cannot read`);
  });
});

/** Llama 3 rope divisors written the way transformers computes llama3 inverse frequencies (inv_freq / scaled inv_freq). */
function llama3Divisors(headDim: number, theta: number, factor: number): Float32Array {
  const [low, high, original] = [1, 4, 8192];
  return Float32Array.from({ length: headDim / 2 }, (_, i) => {
    const invFreq = 1 / theta ** ((2 * i) / headDim);
    const wavelen = (2 * Math.PI) / invFreq;
    const smooth = (original / wavelen - low) / (high - low);
    let scaled = wavelen > original / low ? invFreq / factor : invFreq;
    if (wavelen >= original / high && wavelen <= original / low) scaled = (1 - smooth) * (invFreq / factor) + smooth * invFreq;
    return invFreq / scaled;
  });
}

describe('GGUF: other shapes of tiny models', () => {
  const theta = 500000;
  const ropeFreqs = (divisors: Float32Array): GgufTensorToWrite => ({
    name: 'rope_freqs.weight',
    type: 0,
    dims: [HD / 2],
    data: new Uint8Array(divisors.buffer),
  });

  it('reads Llama 3 rope scaling from rope_freqs.weight (not a weight)', async () => {
    const divisors = llama3Divisors(HD, theta, 32);
    // HD = 8 with theta 5e5 puts one frequency in each regime: unscaled, unscaled, smoothed, divided by the factor.
    expect(divisors[0]).toBe(1);
    expect(divisors[2]).toBeGreaterThan(1);
    expect(divisors[2]).toBeLessThan(32);
    expect(divisors[3]).toBeCloseTo(32, 5);
    const { bytes, hf } = tinyModel({ metadata: { 'llama.rope.freq_base': { type: 'f32', value: theta } }, extra: [ropeFreqs(divisors)] });
    const file = await readGguf(writeTemp(bytes));
    const config = ggufConfig(file);
    expect(config.ropeScaling).toEqual({
      ropeType: 'llama3',
      factor: 32,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    });
    expect([...readGgufWeights(file, config).keys()].sort()).toEqual([...hf.keys()].sort());
  });

  it('refuses rope_freqs that are not Llama 3 scaling, and other rope scaling types', async () => {
    const divisors = llama3Divisors(HD, theta, 8);
    divisors[2] *= 1.5;
    const odd = tinyModel({ metadata: { 'llama.rope.freq_base': { type: 'f32', value: theta } }, extra: [ropeFreqs(divisors)] });
    const file = await readGguf(writeTemp(odd.bytes));
    expect(() => ggufConfig(file)).toThrow(`${file.path}: rope_freqs.weight[2] =`);
    const yarn = tinyModel({ metadata: { 'llama.rope.scaling.type': { type: 'string', value: 'yarn' } } });
    const yarnFile = await readGguf(writeTemp(yarn.bytes));
    expect(() => ggufConfig(yarnFile)).toThrow('rope scaling type "yarn" is not supported');
  });

  it('reads qwen2 GGUFs: q/k/v biases, Q/K rows stored in Hugging Face order', async () => {
    const { bytes, hf } = tinyModel({ arch: 'qwen2' });
    const file = await readGguf(writeTemp(bytes));
    const config = ggufConfig(file);
    expect(config).toMatchObject({ architecture: 'qwen2', attentionBias: true });
    const weights = readGgufWeights(file, config);
    expect(() => checkWeights(config, weights, file.path)).not.toThrow();
    for (const [name, t] of hf) expect(Array.from(weights.get(name)!.data), name).toEqual(Array.from(t.data));
  });

  it('tokenizer: adds BOS when add_bos_token is set; refuses unknown pre-tokenizers and sentencepiece vocabularies', async () => {
    const withBos = tinyModel({
      metadata: {
        'tokenizer.ggml.add_bos_token': { type: 'bool', value: true },
        'tokenizer.ggml.pre': { type: 'string', value: 'llama-bpe' },
      },
    });
    const m = await loadModel(writeTemp(withBos.bytes));
    expect(m.tokenizer.encode(' the')).toEqual([1, vocab.indexOf('Ġt'), vocab.indexOf('he')]);
    expect(m.tokenizer.encode(' the', { addSpecialTokens: false })).toEqual([vocab.indexOf('Ġt'), vocab.indexOf('he')]);
    expect(m.chatTemplate).toBeNull();
    const pre = tinyModel({ metadata: { 'tokenizer.ggml.pre': { type: 'string', value: 'chameleon' } } });
    await expect(loadModel(writeTemp(pre.bytes))).rejects.toThrow('tokenizer.ggml.pre "chameleon" is not known to rg');
    const spm = tinyModel({ metadata: { 'tokenizer.ggml.model': { type: 'string', value: 'llama' } } });
    await expect(loadModel(writeTemp(spm.bytes))).rejects.toThrow('tokenizer.ggml.model is "llama" (rg reads byte-level BPE, "gpt2")');
  });
});
