import { OrtCausalLM, randomLlamaWeights, randomLora, referenceForward, tinyLlamaConfig } from '@rg/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ChatTokenizer, engineAnswerModel } from './engine-model.js';
import type { ChatMessage } from './model.js';

// A tiny random Llama and a character tokenizer (a..z -> 1..26): enough to check that prompts, continuations
// and adapters reach the engine as intended, against the engine's independent float64 reference forward.
const config = tinyLlamaConfig({ eosTokenIds: [] });
const weights = randomLlamaWeights(config, 11);
const tokenizer: ChatTokenizer = {
  encode: (text) => [...text.toLowerCase()].filter((ch) => ch >= 'a' && ch <= 'z').map((ch) => ch.charCodeAt(0) - 96),
  decode: (ids) => ids.map((i) => (i >= 1 && i <= 26 ? String.fromCharCode(96 + i) : '?')).join(''),
  encodeChat: (messages) => [0, ...messages.flatMap((m) => [27, ...tokenizer.encode(m.content)]), 28],
};
const messages: ChatMessage[] = [{ role: 'user', content: 'who made it' }];

function referenceLogLikelihood(prompt: number[], continuation: number[], lora?: Parameters<typeof referenceForward>[3]): number {
  const rows = referenceForward(config, weights, [...prompt, ...continuation], lora);
  let sum = 0;
  continuation.forEach((token, i) => {
    const row = rows[prompt.length - 1 + i];
    const max = Math.max(...row);
    const logZ = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    sum += row[token] - logZ;
  });
  return sum;
}

let lm: OrtCausalLM;
beforeAll(async () => {
  lm = await OrtCausalLM.load(config, weights, { threads: 1 });
});

describe('engineAnswerModel', () => {
  it('scores each continuation after the chat prompt, with and without adapters', async () => {
    const model = engineAnswerModel(lm, tokenizer);
    const prompt = tokenizer.encodeChat(messages);
    const labels = ['ann', 'bob', 'carla'];
    const base = await model.continuationLogLikelihoods(messages, labels, { adapters: null });
    for (const [i, l] of labels.entries()) expect(base[i]).toBeCloseTo(referenceLogLikelihood(prompt, tokenizer.encode(l)), 4);
    const lora = randomLora(config, 2, ['gate_proj', 'up_proj', 'down_proj'], 3, 0.5);
    const adapted = await model.continuationLogLikelihoods(messages, labels, { adapters: lora });
    for (const [i, l] of labels.entries()) expect(adapted[i]).toBeCloseTo(referenceLogLikelihood(prompt, tokenizer.encode(l), lora), 4);
    expect(adapted[0]).not.toBeCloseTo(base[0], 3);
  });

  it('generates greedily from the chat prompt', async () => {
    const model = engineAnswerModel(lm, tokenizer);
    const seq = tokenizer.encodeChat(messages);
    for (let i = 0; i < 6; i++) {
      const rows = referenceForward(config, weights, seq);
      const last = rows[rows.length - 1];
      seq.push(last.indexOf(Math.max(...last)));
    }
    const expected = tokenizer.decode(seq.slice(-6));
    expect(await model.generate(messages, { adapters: null, maxNewTokens: 6 })).toBe(expected);
  });
});
