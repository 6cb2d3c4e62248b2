import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, type TensorToWrite } from '@rg/lora';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from './config.js';
import { expectedTensors, hfConfig } from './hf.js';
import { loadModel } from './load.js';
import { tinyVocab } from './test-helpers/model-files.js';

type Json = Record<string, unknown>;

const specials = ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>'];
const merges = ['Ġ t', 'h e'];
const vocab = tinyVocab(specials, merges);

const baseConfig = {
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 512,
  vocab_size: vocab.length,
  bos_token_id: 0,
};

/** A byte-level BPE tokenizer.json over the tiny vocabulary; BOS added by a template post-processor, like Llama 3's. */
function tokenizerJson(addBos: boolean): Json {
  return {
    version: '1.0',
    added_tokens: specials.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: addBos
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: specials[0], type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: specials[0], type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: { [specials[0]]: { id: specials[0], ids: [0], tokens: [specials[0]] } },
        }
      : null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])), merges },
  };
}

const TEMPLATE =
  "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

function random(n: number, seed: number): Float32Array {
  let s = seed;
  // Multiples of 1/64 in [-1, 1]: exact in f16 and bf16, so any dtype round-trips to the same fp32.
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return Math.round((s / 2 ** 31 - 0.5) * 128) / 64;
  });
}

function toDtype(data: Float32Array, dtype: 'F32' | 'F16' | 'BF16'): ArrayBufferView {
  if (dtype === 'F32') return data;
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  if (dtype === 'BF16') return Uint16Array.from(bits, (b) => b >>> 16);
  return Uint16Array.from(bits, (b) => {
    if ((b & 0x7fffffff) === 0) return (b >>> 16) & 0x8000;
    const exp = ((b >>> 23) & 0xff) - 127 + 15;
    return ((b >>> 16) & 0x8000) | (exp << 10) | ((b >>> 13) & 0x3ff);
  });
}

const root = mkdtempSync(join(tmpdir(), 'rg-hf-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface FolderOptions {
  config: Json;
  dtype?: 'F32' | 'F16' | 'BF16';
  shards?: number;
  addBos?: boolean;
  drop?: string;
}

/** Write a Hugging Face folder with random weights for a config; returns the folder and the fp32 weights. */
function writeFolder(o: FolderOptions) {
  const dir = mkdtempSync(join(root, 'case-'));
  const config = hfConfig('config.json', o.config);
  const weights = new Map<string, { dims: number[]; data: Float32Array }>();
  let seed = 1;
  for (const [name, dims] of expectedTensors(config)) {
    if (name !== o.drop)
      weights.set(name, {
        dims,
        data: random(
          dims.reduce((a, b) => a * b, 1),
          seed++,
        ),
      });
  }
  const dtype = o.dtype ?? 'F32';
  const names = [...weights.keys()];
  const shards = o.shards ?? 1;
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards; s++) {
    const file = shards === 1 ? 'model.safetensors' : `model-0000${s + 1}-of-0000${shards}.safetensors`;
    const part = new Map<string, TensorToWrite>();
    for (const [i, name] of names.entries()) {
      if (i % shards !== s) continue;
      const t = weights.get(name)!;
      part.set(name, { dtype, shape: t.dims, data: toDtype(t.data, dtype) });
      weightMap[name] = file;
    }
    writeFileSync(join(dir, file), encodeSafetensors(part));
  }
  if (shards > 1) writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(o.config));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson(o.addBos ?? false)));
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      bos_token: specials[0],
      eos_token: { content: specials[2] },
      chat_template: TEMPLATE,
      clean_up_tokenization_spaces: false,
    }),
  );
  return { dir, config, weights };
}

describe('Hugging Face folders', () => {
  it('Llama 3: rope scaling, untied head, GQA, EOS ids from config and generation_config, BOS from the post-processor', async () => {
    const { dir, weights } = writeFolder({
      config: {
        ...baseConfig,
        model_type: 'llama',
        rope_theta: 500000,
        rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
        tie_word_embeddings: false,
        eos_token_id: [1, 2],
      },
      addBos: true,
    });
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 0, eos_token_id: [2, 3] }));
    const m = await loadModel(dir);
    expect(m.source).toEqual({ kind: 'hf', path: dir });
    expect(m.config).toEqual<ModelConfig>({
      architecture: 'llama',
      vocabSize: vocab.length,
      hiddenSize: 32,
      intermediateSize: 48,
      numLayers: 2,
      numHeads: 4,
      numKvHeads: 2,
      headDim: 8,
      rmsNormEps: 1e-5,
      ropeTheta: 500000,
      ropeScaling: { ropeType: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
      maxPositionEmbeddings: 512,
      tieWordEmbeddings: false,
      attentionBias: false,
      bosTokenId: 0,
      eosTokenIds: [1, 2, 3],
    });
    expect(m.weights.has('lm_head.weight')).toBe(true);
    for (const [name, t] of weights) expect(Array.from(m.weights.get(name)!.data), name).toEqual(Array.from(t.data));
    expect(m.tokenizer.encode('the')[0]).toBe(0);
    expect(m.tokenizer.encode(' the', { addSpecialTokens: false })).toEqual([vocab.indexOf('Ġt'), vocab.indexOf('he')]);
    expect(m.tokenizer.eosTokenIds).toEqual([1, 2, 3]);
    expect(m.tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }])).toBe('<|begin_of_text|><|user|>hi<|eot_id|><|assistant|>');
  });

  it('Qwen2: q/k/v biases, tied embeddings, sharded bf16 safetensors', async () => {
    const { dir, weights } = writeFolder({
      config: { ...baseConfig, model_type: 'qwen2', rope_theta: 1000000, tie_word_embeddings: true, eos_token_id: 2 },
      dtype: 'BF16',
      shards: 3,
    });
    const m = await loadModel(dir);
    expect(m.config).toMatchObject({
      architecture: 'qwen2',
      attentionBias: true,
      tieWordEmbeddings: true,
      ropeTheta: 1000000,
      eosTokenIds: [2],
    });
    expect(m.weights.has('lm_head.weight')).toBe(false);
    expect(m.weights.get('model.layers.1.self_attn.k_proj.bias')!.dims).toEqual([16]);
    for (const [name, t] of weights) expect(Array.from(m.weights.get(name)!.data), name).toEqual(Array.from(t.data));
  });

  it('Mistral: f16 weights; transformers 5 rope_parameters', async () => {
    const { dir, weights } = writeFolder({
      config: { ...baseConfig, model_type: 'mistral', rope_parameters: { rope_type: 'default', rope_theta: 1000000 }, head_dim: 8 },
      dtype: 'F16',
    });
    const m = await loadModel(dir);
    expect(m.config).toMatchObject({
      architecture: 'mistral',
      ropeTheta: 1000000,
      ropeScaling: null,
      headDim: 8,
      tieWordEmbeddings: false,
    });
    for (const [name, t] of weights) expect(Array.from(m.weights.get(name)!.data), name).toEqual(Array.from(t.data));
  });

  it('refuses an unknown architecture, naming config.json', async () => {
    const { dir } = writeFolder({ config: { ...baseConfig, model_type: 'llama' } });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...baseConfig, model_type: 'gpt_neox' }));
    await expect(loadModel(dir)).rejects.toThrow(`${join(dir, 'config.json')}: unknown architecture model_type="gpt_neox"`);
  });

  it('refuses an unsupported rope scaling and a config that is not JSON', async () => {
    const { dir } = writeFolder({ config: { ...baseConfig, model_type: 'llama' } });
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ ...baseConfig, model_type: 'llama', rope_scaling: { rope_type: 'yarn', factor: 4 } }),
    );
    await expect(loadModel(dir)).rejects.toThrow('rope scaling type "yarn" is not supported');
    writeFileSync(join(dir, 'config.json'), '{"model_type": "llama",');
    await expect(loadModel(dir)).rejects.toThrow(`${join(dir, 'config.json')}: not valid JSON`);
  });

  it('refuses a truncated safetensors file, naming it', async () => {
    const { dir } = writeFolder({ config: { ...baseConfig, model_type: 'llama' } });
    const file = join(dir, 'model.safetensors');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.byteLength - 64));
    await expect(loadModel(dir)).rejects.toThrow(
      new RegExp(`${file}: tensor ".*" ends at byte \\d+ of a \\d+-byte data section \\(file truncated\\)`),
    );
  });

  it('refuses a missing tensor or a wrong shape, naming the tensor', async () => {
    const missing = writeFolder({ config: { ...baseConfig, model_type: 'llama' }, drop: 'model.layers.1.mlp.up_proj.weight' });
    await expect(loadModel(missing.dir)).rejects.toThrow(
      `${join(missing.dir, 'model.safetensors')}: missing tensor "model.layers.1.mlp.up_proj.weight"`,
    );
    const { dir } = writeFolder({ config: { ...baseConfig, model_type: 'llama' } });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...baseConfig, model_type: 'llama', intermediate_size: 64 }));
    await expect(loadModel(dir)).rejects.toThrow(
      'tensor "model.layers.0.mlp.gate_proj.weight" has shape [48,32], the config implies [64,32]',
    );
  });

  it('refuses a missing or corrupt tokenizer.json, naming it', async () => {
    const { dir } = writeFolder({ config: { ...baseConfig, model_type: 'llama' } });
    const path = join(dir, 'tokenizer.json');
    writeFileSync(path, '{"model": {"type": "BPE", "vocab": ');
    await expect(loadModel(dir)).rejects.toThrow(`${path}: not valid JSON`);
    writeFileSync(path, JSON.stringify({ model: { type: 'Unigram', vocab: [] } }));
    await expect(loadModel(dir)).rejects.toThrow(`${path}: model type "Unigram" (rg reads byte-level BPE)`);
    rmSync(path);
    await expect(loadModel(dir)).rejects.toThrow(`${path}: missing`);
  });

  it('refuses a chat template that does not parse, naming tokenizer_config.json', async () => {
    const { dir } = writeFolder({ config: { ...baseConfig, model_type: 'llama' } });
    const path = join(dir, 'tokenizer_config.json');
    writeFileSync(path, JSON.stringify({ bos_token: specials[0], chat_template: '{% for m in messages %}{{ m.content }' }));
    await expect(loadModel(dir)).rejects.toThrow(`${path}: chat template does not parse`);
  });

  it('refuses a shard the index lists but the folder lacks', async () => {
    const { dir } = writeFolder({ config: { ...baseConfig, model_type: 'qwen2' }, shards: 2 });
    const shard = join(dir, 'model-00002-of-00002.safetensors');
    writeFileSync(shard, '');
    await expect(loadModel(dir)).rejects.toThrow(`${shard}: too short to be a safetensors file`);
  });
});
