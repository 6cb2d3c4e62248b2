import type { ModelConfig, ModelWeights } from '../model/config.js';
import { randoms } from './gradcheck.js';

/** A Llama-shaped config small enough for finite-difference checks (GQA, tied embeddings). */
export function tinyLlamaConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return {
    architecture: 'llama',
    vocabSize: 32,
    hiddenSize: 16,
    intermediateSize: 24,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 4,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: null,
    maxPositionEmbeddings: 64,
    tieWordEmbeddings: true,
    attentionBias: false,
    bosTokenId: 1,
    eosTokenIds: [2],
    ...overrides,
  };
}

/** Random weights under Hugging Face names for a config (norm weights near 1, projections ~ N(0, 0.3²)-ish). */
export function randomLlamaWeights(config: ModelConfig, seed = 1): ModelWeights {
  const w: ModelWeights = new Map();
  let s = seed;
  const put = (name: string, dims: number[], scale: number, offset = 0) => {
    const r = randoms(
      dims.reduce((a, b) => a * b, 1),
      s++,
      scale,
    );
    w.set(name, { dims, data: Float32Array.from(r, (v) => v + offset) });
  };
  const h = config.hiddenSize;
  const q = config.numHeads * config.headDim;
  const kv = config.numKvHeads * config.headDim;
  put('model.embed_tokens.weight', [config.vocabSize, h], 1);
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    put(`${p}.input_layernorm.weight`, [h], 0.2, 1);
    put(`${p}.post_attention_layernorm.weight`, [h], 0.2, 1);
    put(`${p}.self_attn.q_proj.weight`, [q, h], 0.5);
    put(`${p}.self_attn.k_proj.weight`, [kv, h], 0.5);
    put(`${p}.self_attn.v_proj.weight`, [kv, h], 0.5);
    put(`${p}.self_attn.o_proj.weight`, [h, q], 0.5);
    put(`${p}.mlp.gate_proj.weight`, [config.intermediateSize, h], 0.5);
    put(`${p}.mlp.up_proj.weight`, [config.intermediateSize, h], 0.5);
    put(`${p}.mlp.down_proj.weight`, [h, config.intermediateSize], 0.5);
    if (config.attentionBias) {
      put(`${p}.self_attn.q_proj.bias`, [q], 0.1);
      put(`${p}.self_attn.k_proj.bias`, [kv], 0.1);
      put(`${p}.self_attn.v_proj.bias`, [kv], 0.1);
    }
  }
  put('model.norm.weight', [h], 0.2, 1);
  if (!config.tieWordEmbeddings) put('lm_head.weight', [config.vocabSize, h], 1);
  return w;
}
