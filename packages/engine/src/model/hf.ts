import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, readSafetensorsHeader } from '@rg/lora';
import type { ModelConfig, ModelWeights, RopeScaling } from './config.js';
import { ModelFileError } from './errors.js';

type Json = Record<string, unknown>;

/** config.json model_type values rg loads: Llama-family decoders that differ only in ModelConfig fields. */
export const HF_ARCHITECTURES = ['llama', 'mistral', 'qwen2'];

function readJson(path: string): Json {
  if (!existsSync(path)) throw new ModelFileError(path, 'missing');
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Json;
  } catch (e) {
    throw new ModelFileError(path, `not valid JSON (${(e as Error).message})`);
  }
}

/** Resolve a Hugging Face config.json into the shared ModelConfig. */
export function hfConfig(path: string, json: Json): ModelConfig {
  const arch = json.model_type;
  if (typeof arch !== 'string' || !HF_ARCHITECTURES.includes(arch)) {
    throw new ModelFileError(path, `unknown architecture model_type=${JSON.stringify(arch)} (rg loads: ${HF_ARCHITECTURES.join(', ')})`);
  }
  const num = (key: string, fallback?: number): number => {
    const v = json[key] ?? fallback;
    if (typeof v !== 'number') throw new ModelFileError(path, `"${key}" missing or not a number`);
    return v;
  };
  const hiddenSize = num('hidden_size');
  const numHeads = num('num_attention_heads');
  // transformers 5 writes rope settings under rope_parameters; older configs use rope_theta + rope_scaling.
  const rope = (json.rope_parameters ?? json.rope_scaling ?? null) as Json | null;
  const ropeType = rope ? (rope.rope_type ?? rope.type ?? 'default') : 'default';
  let ropeScaling: RopeScaling | null = null;
  if (ropeType === 'llama3') {
    const r = rope as Json;
    ropeScaling = {
      ropeType: 'llama3',
      factor: Number(r.factor),
      lowFreqFactor: Number(r.low_freq_factor),
      highFreqFactor: Number(r.high_freq_factor),
      originalMaxPositionEmbeddings: Number(r.original_max_position_embeddings),
    };
    if (Object.values(ropeScaling).some((v) => Number.isNaN(v))) throw new ModelFileError(path, 'llama3 rope scaling lacks a field');
  } else if (ropeType !== 'default') {
    throw new ModelFileError(path, `rope scaling type ${JSON.stringify(ropeType)} is not supported (rg supports llama3)`);
  }
  if (arch === 'llama' && json.attention_bias === true) {
    throw new ModelFileError(path, 'attention_bias=true (biases on q/k/v/o) is not supported for llama');
  }
  if (arch === 'llama' && json.mlp_bias === true) throw new ModelFileError(path, 'mlp_bias=true is not supported');
  const eos = json.eos_token_id;
  const eosTokenIds = Array.isArray(eos) ? eos.map(Number) : typeof eos === 'number' ? [eos] : [];
  return {
    architecture: arch,
    vocabSize: num('vocab_size'),
    hiddenSize,
    intermediateSize: num('intermediate_size'),
    numLayers: num('num_hidden_layers'),
    numHeads,
    numKvHeads: num('num_key_value_heads', numHeads),
    headDim: typeof json.head_dim === 'number' ? json.head_dim : hiddenSize / numHeads,
    rmsNormEps: num('rms_norm_eps'),
    ropeTheta: Number(rope?.rope_theta ?? json.rope_theta ?? 10000),
    ropeScaling,
    maxPositionEmbeddings: num('max_position_embeddings'),
    tieWordEmbeddings: json.tie_word_embeddings === true,
    // Qwen2's attention always has q/k/v biases (its config has no flag for it).
    attentionBias: arch === 'qwen2',
    bosTokenId: typeof json.bos_token_id === 'number' ? json.bos_token_id : null,
    eosTokenIds,
  };
}

/** The tensors a config implies, with their shapes ([out, in] for linear weights). */
export function expectedTensors(config: ModelConfig): Map<string, number[]> {
  const h = config.hiddenSize;
  const q = config.numHeads * config.headDim;
  const kv = config.numKvHeads * config.headDim;
  const f = config.intermediateSize;
  const out = new Map<string, number[]>([
    ['model.embed_tokens.weight', [config.vocabSize, h]],
    ['model.norm.weight', [h]],
  ]);
  if (!config.tieWordEmbeddings) out.set('lm_head.weight', [config.vocabSize, h]);
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}.`;
    out.set(`${p}input_layernorm.weight`, [h]);
    out.set(`${p}post_attention_layernorm.weight`, [h]);
    out.set(`${p}self_attn.q_proj.weight`, [q, h]);
    out.set(`${p}self_attn.k_proj.weight`, [kv, h]);
    out.set(`${p}self_attn.v_proj.weight`, [kv, h]);
    out.set(`${p}self_attn.o_proj.weight`, [h, q]);
    if (config.attentionBias) {
      out.set(`${p}self_attn.q_proj.bias`, [q]);
      out.set(`${p}self_attn.k_proj.bias`, [kv]);
      out.set(`${p}self_attn.v_proj.bias`, [kv]);
    }
    out.set(`${p}mlp.gate_proj.weight`, [f, h]);
    out.set(`${p}mlp.up_proj.weight`, [f, h]);
    out.set(`${p}mlp.down_proj.weight`, [h, f]);
  }
  return out;
}

/** Check that weights hold every tensor the config implies, with the right shape; `source` names the file(s). */
export function checkWeights(config: ModelConfig, weights: ModelWeights, source: string): void {
  for (const [name, dims] of expectedTensors(config)) {
    const t = weights.get(name);
    if (!t) throw new ModelFileError(source, `missing tensor "${name}"`);
    if (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i])) {
      throw new ModelFileError(source, `tensor "${name}" has shape [${t.dims}], the config implies [${dims}]`);
    }
  }
}

/** The safetensors files of a folder: model.safetensors, or the shards model.safetensors.index.json lists. */
function safetensorsFiles(dir: string): string[] {
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return [single];
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (!existsSync(indexPath)) throw new ModelFileError(dir, 'no model.safetensors or model.safetensors.index.json');
  const map = readJson(indexPath).weight_map;
  if (!map || typeof map !== 'object') throw new ModelFileError(indexPath, 'no "weight_map" object');
  const shards = [...new Set(Object.values(map as Record<string, string>))];
  for (const s of shards) {
    // Shard names come from the file: keep them inside the folder.
    if (typeof s !== 'string' || s.includes('/') || s.includes('\\') || s.startsWith('.')) {
      throw new ModelFileError(indexPath, `shard name ${JSON.stringify(s)} is not a plain file name`);
    }
  }
  return shards.map((s) => join(dir, s));
}

/**
 * The ModelConfig of a Hugging Face model folder's config.json. EOS ids also come from
 * generation_config.json when present: generation stops on those in transformers (Llama 3 Instruct
 * lists <|eot_id|> there).
 */
export function readHfConfig(dir: string): ModelConfig {
  const configPath = join(dir, 'config.json');
  const config = hfConfig(configPath, readJson(configPath));
  const generationPath = join(dir, 'generation_config.json');
  if (existsSync(generationPath)) {
    const eos = readJson(generationPath).eos_token_id;
    const ids = Array.isArray(eos) ? eos.map(Number) : typeof eos === 'number' ? [eos] : [];
    config.eosTokenIds = [...new Set([...config.eosTokenIds, ...ids])];
  }
  return config;
}

/** Config and fp32 weights (by Hugging Face name) of a Hugging Face model folder. */
export function readHfModel(dir: string): { config: ModelConfig; weights: ModelWeights } {
  const config = readHfConfig(dir);
  const files = safetensorsFiles(dir);
  const wanted = expectedTensors(config);
  const weights: ModelWeights = new Map();
  for (const file of files) {
    if (!existsSync(file)) throw new ModelFileError(file, 'missing (listed in model.safetensors.index.json)');
    // Errors from the header parser already name the file and the problem (truncated, bad dtype, ...).
    const names = [...readSafetensorsHeader(file).tensors.keys()].filter((n) => wanted.has(n));
    for (const [name, t] of readSafetensors(file, names)) weights.set(name, t);
  }
  checkWeights(config, weights, files.length === 1 ? files[0] : join(dir, 'model.safetensors.index.json'));
  return { config, weights };
}
