/**
 * The architecture description every model file is resolved into. One description covers the
 * Llama family (Llama 2/3, SmolLM2, Mistral, Qwen2): they differ only in the fields below.
 */
export interface ModelConfig {
  /** 'llama' | 'mistral' | 'qwen2' (from config.json model_type or GGUF general.architecture). */
  architecture: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** Llama 3 style rope scaling; null when rotary frequencies are used as is. */
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  /** LM head shares the token embedding matrix. */
  tieWordEmbeddings: boolean;
  /** Qwen2: q/k/v projections have biases. */
  attentionBias: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

export interface RopeScaling {
  ropeType: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

/** A dense fp32 tensor, row-major. Linear weights are [out, in] as in PyTorch / safetensors. */
export interface Tensor32 {
  dims: number[];
  data: Float32Array;
  /**
   * Where the weights are read lazily (GGUF): a fresh fp32 copy, not kept (the same array as `data` once that was
   * read). For one-off uses such as quantizing, so that the fp32 copy can be dropped right after.
   */
  read?(): Float32Array;
}

/**
 * Weights by their Hugging Face names, e.g. 'model.embed_tokens.weight',
 * 'model.layers.0.self_attn.q_proj.weight' ([out, in]), 'model.layers.0.input_layernorm.weight',
 * 'model.norm.weight', 'lm_head.weight' (absent when tied). GGUF files are mapped to these names
 * on load, with the Q/K rows put back in Hugging Face order.
 */
export type ModelWeights = Map<string, Tensor32>;

/** The projections LoRA can target, by their Hugging Face module names. */
export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

/** [in, out] features of a target module for a config. */
export function targetShape(config: ModelConfig, target: LoraTarget): { inFeatures: number; outFeatures: number } {
  const h = config.hiddenSize;
  const q = config.numHeads * config.headDim;
  const kv = config.numKvHeads * config.headDim;
  switch (target) {
    case 'q_proj':
      return { inFeatures: h, outFeatures: q };
    case 'k_proj':
    case 'v_proj':
      return { inFeatures: h, outFeatures: kv };
    case 'o_proj':
      return { inFeatures: q, outFeatures: h };
    case 'gate_proj':
    case 'up_proj':
      return { inFeatures: h, outFeatures: config.intermediateSize };
    case 'down_proj':
      return { inFeatures: config.intermediateSize, outFeatures: h };
  }
}

/** 'self_attn' or 'mlp': where a target module sits inside a decoder layer (HF/PEFT naming). */
export function targetParent(target: LoraTarget): 'self_attn' | 'mlp' {
  return target.endsWith('_proj') && ['gate_proj', 'up_proj', 'down_proj'].includes(target) ? 'mlp' : 'self_attn';
}
