import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { ModelFileError } from '../model/errors.js';
import { type ChatMessage, ChatTemplate, type ChatTemplateOptions } from './chat-template.js';

export interface EncodeOptions {
  /** Add the tokens the tokenizer puts around a text (e.g. Llama 3's BOS). Default true, as in transformers. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave out special tokens such as `<|im_end|>`. Default false. */
  skipSpecialTokens?: boolean;
}

/**
 * Byte-level BPE tokenizer (tokenizer.json semantics, run by @huggingface/tokenizers) plus the
 * model's chat template. Built from a Hugging Face folder or from a GGUF file's metadata.
 */
export class Tokenizer {
  constructor(
    private readonly hf: HfTokenizer,
    readonly vocabSize: number,
    readonly bosTokenId: number | null,
    readonly eosTokenIds: number[],
    readonly chatTemplate: ChatTemplate | null,
  ) {}

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.hf.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  decode(ids: number[], options: DecodeOptions = {}): string {
    // The library refuses an empty list; an empty generation decodes to ''.
    if (ids.length === 0) return '';
    return this.hf.decode(ids, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /** The prompt text for a conversation, from the model's own template. Encode it with addSpecialTokens: false. */
  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (!this.chatTemplate) throw new Error('this model has no chat template');
    return this.chatTemplate.render(messages, options);
  }

  /** Token ids of a conversation rendered with the chat template (the template writes any BOS itself). */
  encodeChat(messages: ChatMessage[], options: ChatTemplateOptions = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, options), { addSpecialTokens: false });
  }
}

type Json = Record<string, unknown>;

function readJson(path: string): Json {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ModelFileError(path, 'cannot be read');
  }
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    throw new ModelFileError(path, `not valid JSON (${(e as Error).message})`);
  }
}

/** A special token in tokenizer_config.json is a string or an AddedToken object {content}. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return undefined;
}

function specialTokenStrings(config: Json): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    const t = tokenText(config[key]);
    if (t !== undefined) out[key] = t;
  }
  return out;
}

/** The chat template of a Hugging Face folder: chat_template.jinja, or tokenizer_config.json's chat_template. */
function folderChatTemplate(dir: string, config: Json): { source: string; origin: string } | null {
  const jinja = join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) return { source: readFileSync(jinja, 'utf8'), origin: jinja };
  const t = config.chat_template;
  const origin = join(dir, 'tokenizer_config.json');
  if (typeof t === 'string') return { source: t, origin };
  // A list of named templates: the default one is the chat template.
  if (Array.isArray(t)) {
    const named = t.find((x: Json) => x?.name === 'default');
    if (named && typeof named.template === 'string') return { source: named.template, origin };
  }
  return null;
}

/** The tokenizer of a Hugging Face model folder (tokenizer.json + tokenizer_config.json). */
export function tokenizerFromFolder(dir: string, eosTokenIds: number[]): Tokenizer {
  const jsonPath = join(dir, 'tokenizer.json');
  if (!existsSync(jsonPath)) throw new ModelFileError(jsonPath, 'missing (rg reads tokenizers from tokenizer.json)');
  const json = readJson(jsonPath);
  const model = json.model as Json | undefined;
  if (model?.type !== 'BPE') throw new ModelFileError(jsonPath, `model type ${JSON.stringify(model?.type)} (rg reads byte-level BPE)`);
  const configPath = join(dir, 'tokenizer_config.json');
  const config = existsSync(configPath) ? readJson(configPath) : {};
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(json, config);
  } catch (e) {
    throw new ModelFileError(jsonPath, `cannot build the tokenizer (${(e as Error).message})`);
  }
  const special = specialTokenStrings(config);
  const bos = special.bos_token !== undefined ? (hf.token_to_id(special.bos_token) ?? null) : null;
  const eos = special.eos_token !== undefined ? hf.token_to_id(special.eos_token) : undefined;
  const template = folderChatTemplate(dir, config);
  return new Tokenizer(
    hf,
    hf.get_vocab(true).size,
    bos,
    [...new Set([...eosTokenIds, ...(eos !== undefined ? [eos] : [])])],
    template ? new ChatTemplate(template.source, special, template.origin) : null,
  );
}

// Pre-tokenizer split patterns by llama.cpp's `tokenizer.ggml.pre` name (the same regexes the
// models' tokenizer.json files carry).
const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
const splitThenBytes = (pattern: string) => ({
  type: 'Sequence',
  pretokenizers: [{ type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false }, byteLevel(false)],
});

const PRE_TOKENIZERS: Record<string, { preTokenizer: Json; ignoreMerges: boolean }> = {
  default: { preTokenizer: byteLevel(true), ignoreMerges: false },
  'gpt-2': { preTokenizer: byteLevel(true), ignoreMerges: false },
  // SmolLM's tokenizer.json: every digit its own token, then GPT-2's byte-level split.
  smollm: {
    preTokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true)] },
    ignoreMerges: false,
  },
  'llama-bpe': { preTokenizer: splitThenBytes(LLAMA3_SPLIT), ignoreMerges: true },
  llama3: { preTokenizer: splitThenBytes(LLAMA3_SPLIT), ignoreMerges: true },
  qwen2: { preTokenizer: splitThenBytes(QWEN2_SPLIT), ignoreMerges: false },
};

// llama.cpp token types (tokenizer.ggml.token_type).
const CONTROL = 3;
const USER_DEFINED = 4;

/**
 * Rebuild a byte-level BPE tokenizer from GGUF metadata (tokenizer.ggml.tokens / merges /
 * token_type / pre, bos/eos ids, add_bos_token, chat_template), as a tokenizer.json would state it.
 */
export function tokenizerFromGguf(path: string, metadata: Record<string, unknown>, eosTokenIds: number[]): Tokenizer {
  const model = metadata['tokenizer.ggml.model'];
  if (model !== 'gpt2')
    throw new ModelFileError(path, `tokenizer.ggml.model is ${JSON.stringify(model)} (rg reads byte-level BPE, "gpt2")`);
  const tokens = metadata['tokenizer.ggml.tokens'];
  const merges = metadata['tokenizer.ggml.merges'];
  if (!Array.isArray(tokens) || !Array.isArray(merges))
    throw new ModelFileError(path, 'tokenizer.ggml.tokens or tokenizer.ggml.merges missing');
  const types = Array.isArray(metadata['tokenizer.ggml.token_type']) ? (metadata['tokenizer.ggml.token_type'] as number[]) : [];
  const pre = String(metadata['tokenizer.ggml.pre'] ?? 'default');
  const preTokenizer = PRE_TOKENIZERS[pre];
  if (!preTokenizer) {
    throw new ModelFileError(path, `tokenizer.ggml.pre "${pre}" is not known to rg (known: ${Object.keys(PRE_TOKENIZERS).join(', ')})`);
  }
  const id = (key: string) => {
    const v = metadata[key];
    return typeof v === 'number' ? v : undefined;
  };
  const bos = id('tokenizer.ggml.bos_token_id');
  const eos = id('tokenizer.ggml.eos_token_id');
  const addBos = metadata['tokenizer.ggml.add_bos_token'] === true && bos !== undefined;

  const vocab: Record<string, number> = {};
  for (const [i, t] of (tokens as string[]).entries()) vocab[t] = i;
  const addedTokens = (tokens as string[]).flatMap((content, i) =>
    types[i] === CONTROL || types[i] === USER_DEFINED
      ? [{ id: i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: types[i] === CONTROL }]
      : [],
  );
  const bosToken = bos !== undefined ? (tokens[bos] as string) : undefined;
  const json = {
    version: '1.0',
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: preTokenizer.preTokenizer,
    post_processor: addBos
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: bosToken, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: bosToken, type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: { [bosToken as string]: { id: bosToken, ids: [bos], tokens: [bosToken] } },
        }
      : null,
    decoder: byteLevel(true),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: preTokenizer.ignoreMerges,
      vocab,
      merges,
    },
  };
  const special: Record<string, string> = {};
  if (bosToken !== undefined) special.bos_token = bosToken;
  if (eos !== undefined) special.eos_token = tokens[eos] as string;
  const config = { ...special, clean_up_tokenization_spaces: false };
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(json, config);
  } catch (e) {
    throw new ModelFileError(path, `cannot build the tokenizer from metadata (${(e as Error).message})`);
  }
  const template = metadata['tokenizer.chat_template'];
  return new Tokenizer(
    hf,
    tokens.length,
    bos ?? null,
    eosTokenIds,
    typeof template === 'string' ? new ChatTemplate(template, special, `${path} (tokenizer.chat_template)`) : null,
  );
}
