// `@rg/engine/testing`: fixtures for the tests and examples of what is built on the engine, kept out of its main API.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSafetensors, type TensorToWrite } from '@rg/lora';
import type { ModelConfig } from './model/config.js';
import { randomLlamaWeights, tinyLlamaConfig } from './train/tiny-model.js';

/** Sizes of the tiny model that a test may change (the vocabulary is the tokenizer's). */
export type TinyShape = Partial<Pick<ModelConfig, 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim'>>;

/** Role markers of the tiny model's chat template (ChatML, as SmolLM2's), then the 256 byte-level characters. */
const SPECIALS = ['<|im_start|>', '<|im_end|>', '<|endoftext|>'];
const TEMPLATE =
  "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/** GPT-2's byte-to-character table: printable bytes stand for themselves, the others map past U+0100. */
function byteCharacters(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : next++));
}

/**
 * Writes a Hugging Face model folder with a tiny random Llama (2 layers, hidden 16) and a byte-level tokenizer with a
 * chat template: `loadModel(dir)` (or the CLI's `--model DIR`) runs the whole pipeline in seconds. Its answers are noise; tests that use it
 * check wiring, not quality. The folder name is the model's store/output name. `shape` widens it, e.g. to a hidden
 * size that 8- and 4-bit blocks of 32 divide (at 16 no projection is quantized).
 */
export function writeTinyModel(dir: string, shape: TinyShape = {}): string {
  const vocab = [...SPECIALS, ...byteCharacters()];
  const config = tinyLlamaConfig({ ...shape, vocabSize: vocab.length, maxPositionEmbeddings: 4096, bosTokenId: null, eosTokenIds: [1] });
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'llama',
      hidden_size: config.hiddenSize,
      intermediate_size: config.intermediateSize,
      num_hidden_layers: config.numLayers,
      num_attention_heads: config.numHeads,
      num_key_value_heads: config.numKvHeads,
      head_dim: config.headDim,
      rms_norm_eps: config.rmsNormEps,
      max_position_embeddings: config.maxPositionEmbeddings,
      vocab_size: config.vocabSize,
      tie_word_embeddings: true,
      eos_token_id: 1,
    }),
  );
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, t] of randomLlamaWeights(config, 7)) tensors.set(name, { dtype: 'F32', shape: t.dims, data: t.data });
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
  writeFileSync(
    join(dir, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      added_tokens: SPECIALS.map((content, id) => ({
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
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])), merges: [] },
    }),
  );
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: SPECIALS[1], chat_template: TEMPLATE }));
  return dir;
}
