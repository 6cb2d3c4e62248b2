import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ggufConfig, readGguf } from '../model/gguf.js';
import { ensureModel } from '../model/pull.js';
import type { ChatMessage } from './chat-template.js';
import { type Tokenizer, tokenizerFromGguf } from './tokenizer.js';

const fixtureDir = new URL('../../fixtures/', import.meta.url);
const ref = JSON.parse(readFileSync(new URL('gguf-reference.json', fixtureDir), 'utf8')) as {
  tokenizer: { text: string; ids: number[] }[];
  chat: { messages: ChatMessage[]; withGenerationPrompt: string; withoutGenerationPrompt: string; ids: number[] };
};
const transformersRef = JSON.parse(readFileSync(new URL('smollm2-reference.json', fixtureDir), 'utf8')) as {
  cases: { name: string; text: string; ids: number[]; messages?: ChatMessage[]; greedy: number[]; greedyText: string }[];
};

describe('tokenizer rebuilt from the SmolLM2 GGUF metadata', () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    const file = await readGguf(await ensureModel());
    tok = tokenizerFromGguf(file.path, file.metadata, ggufConfig(file).eosTokenIds);
  });

  it('encodes like the Python tokenizer (SmolLM2 pre-tokenizer) on unicode, whitespace, digits, code, special tokens', () => {
    for (const { text, ids } of ref.tokenizer) expect(tok.encode(text, { addSpecialTokens: false }), JSON.stringify(text)).toEqual(ids);
  });

  it('encodes the prompts of the transformers reference to the same ids', () => {
    for (const c of transformersRef.cases) expect(tok.encode(c.text, { addSpecialTokens: false }), c.name).toEqual(c.ids);
  });

  it('round-trips text exactly, including special tokens and odd whitespace', () => {
    const texts = [
      ...ref.tokenizer.map((r) => r.text),
      '',
      ' ',
      '\n\n\n',
      '\t \t',
      'a  b   c',
      '\u00a0nbsp\u2003em',
      '🏳️‍🌈 zwj',
      'x'.repeat(500),
    ];
    for (const text of texts) expect(tok.decode(tok.encode(text)), JSON.stringify(text)).toBe(text);
  });

  it('keeps special tokens whole, splits digits one per token, and can skip specials when decoding', () => {
    expect(tok.encode('<|im_start|>user<|im_end|>')).toEqual([1, ...tok.encode('user'), 2]);
    const digits = tok.encode('12345', { addSpecialTokens: false });
    expect(digits.map((id) => tok.idToToken(id))).toEqual(['1', '2', '3', '4', '5']);
    expect(tok.decode([1, ...tok.encode('hi'), 2], { skipSpecialTokens: true })).toBe('hi');
  });

  it('decodes the reference greedy continuations to the same text', () => {
    for (const c of transformersRef.cases) expect(tok.decode(c.greedy), c.name).toBe(c.greedyText);
  });

  it('adds no BOS (the GGUF says add_bos_token = false) and knows BOS/EOS ids', () => {
    expect(tok.encode('Hello', { addSpecialTokens: true })).toEqual(tok.encode('Hello', { addSpecialTokens: false }));
    expect(tok.bosTokenId).toBe(1);
    expect(tok.eosTokenIds).toEqual([2]);
    expect(tok.vocabSize).toBe(49152);
  });

  it('renders the model’s own chat template like transformers', () => {
    expect(tok.applyChatTemplate(ref.chat.messages, { addGenerationPrompt: true })).toBe(ref.chat.withGenerationPrompt);
    expect(tok.applyChatTemplate(ref.chat.messages, { addGenerationPrompt: false })).toBe(ref.chat.withoutGenerationPrompt);
    expect(tok.encodeChat(ref.chat.messages)).toEqual(ref.chat.ids);
    const chatCase = transformersRef.cases.find((c) => c.messages)!;
    expect(tok.encodeChat(chatCase.messages!)).toEqual(chatCase.ids);
  });
});
