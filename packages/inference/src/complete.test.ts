import { generate, OrtCausalLM, randomLlamaWeights, tinyLlamaConfig } from '@rg/engine';
import type { LoraWeights } from '@rg/lora';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAnswerer } from './answerer.js';
import { type ChatTokenizer, engineAnswerModel } from './engine-model.js';
import type { AnswerModel, CompletionRequest } from './model.js';

// A tiny random Llama and a character tokenizer (a..z -> 1..26), as engine-model.test.ts: no EOS, so every
// generation runs to maxNewTokens unless aborted.
const config = tinyLlamaConfig({ eosTokenIds: [] });
const weights = randomLlamaWeights(config, 11);
const tokenizer: ChatTokenizer = {
  encode: (text) => [...text.toLowerCase()].filter((ch) => ch >= 'a' && ch <= 'z').map((ch) => ch.charCodeAt(0) - 96),
  decode: (ids) => ids.map((i) => (i >= 1 && i <= 26 ? String.fromCharCode(96 + i) : '?')).join(''),
  encodeChat: (messages) => [0, ...messages.flatMap((m) => [27, ...tokenizer.encode(m.content)]), 28],
};
const messages = [{ role: 'user' as const, content: 'who made it' }];

let lm: OrtCausalLM;
beforeAll(async () => {
  lm = await OrtCausalLM.load(config, weights, { threads: 1 });
});

describe('engineAnswerModel.complete', () => {
  it('generates what generate does, streamed, counted and timed', async () => {
    const model = engineAnswerModel(lm, tokenizer);
    const deltas: string[] = [];
    const c = await model.complete!({ prompt: { messages }, adapters: null, maxNewTokens: 8, onDelta: (d) => deltas.push(d) });
    const expected = await generate(lm, tokenizer.encodeChat(messages), { maxNewTokens: 8, decode: tokenizer.decode });
    expect(c.text).toBe(expected.text);
    expect(deltas.join('')).toBe(c.text);
    expect(c).toMatchObject({ finishReason: 'length', promptTokens: tokenizer.encodeChat(messages).length, completionTokens: 8 });
    expect(c.prefillMs).toBeGreaterThan(0);
    expect(c.decodeMs).toBeGreaterThan(0);
    const raw = await model.complete!({ prompt: { raw: 'who made it' }, adapters: null, maxNewTokens: 2 });
    expect(raw.promptTokens).toBe(tokenizer.encode('who made it').length);
  });

  it('stops between tokens once the signal aborts, and releases what the generation held', async () => {
    const released: unknown[] = [];
    const forwards: unknown[] = [];
    // The engine's model, watched: every KV cache a forward returns must be released, aborted or not.
    const watched = Object.create(lm) as OrtCausalLM;
    watched.forward = async (r) => {
      const out = await lm.forward(r);
      forwards.push(out.cache);
      return out;
    };
    watched.release = (h) => {
      released.push(h);
      lm.release(h);
    };
    const abort = new AbortController();
    const c = await engineAnswerModel(watched, tokenizer).complete!({
      prompt: { messages },
      adapters: null,
      maxNewTokens: 8,
      signal: abort.signal,
      onDelta: () => abort.abort(),
    });
    expect(c).toMatchObject({ finishReason: 'abort', completionTokens: 1 });
    expect(c.text.length).toBe(1);
    for (const cache of forwards) expect(released).toContain(cache);
  });

  it('uses the generate function it is given', async () => {
    const calls: number[][] = [];
    const model = engineAnswerModel(lm, tokenizer, {
      generate: async (_lm, promptIds, options) => {
        calls.push(promptIds);
        options?.onToken?.(5, 'e');
        return { tokens: [5], text: 'e', finishReason: 'eos' };
      },
    });
    const c = await model.complete!({ prompt: { messages }, adapters: null, maxNewTokens: 8 });
    expect(calls).toEqual([tokenizer.encodeChat(messages)]);
    expect(c).toMatchObject({ text: 'e', finishReason: 'stop', completionTokens: 1 });
  });
});

describe('answerer call options', () => {
  /** A model that records each completion request and answers "ok". */
  function recording(): AnswerModel & { requests: CompletionRequest[] } {
    const requests: CompletionRequest[] = [];
    return {
      requests,
      generate: async () => 'ok',
      continuationLogLikelihoods: async (_m, cs) => cs.map(() => 0),
      complete: async (r) => {
        requests.push(r);
        return { text: ' ok', finishReason: 'stop', promptTokens: 3, completionTokens: 1, adaptersMs: 0, prefillMs: 1, decodeMs: 0 };
      },
    };
  }
  const passage = { id: 'p', text: 'Quorinium glows green.' };
  const retriever = { search: async () => [{ id: 'p', score: 2 }] };
  const documents = { get: () => passage };

  it('puts the passages in the system turn of a conversation', async () => {
    const model = recording();
    const icl = createAnswerer({ model, retriever, documents }, { method: 'icl', topk: 1, maxNewTokens: 4 });
    const a = await icl.answer('What colour?', {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'What colour?' },
      ],
    });
    expect(a.text).toBe('ok');
    expect(a.completion?.text).toBe(' ok');
    expect(model.requests[0].prompt).toEqual({
      messages: [
        { role: 'system', content: 'Be brief.\n\nRead the passage, then answer the question.\n\nPassage: Quorinium glows green.' },
        { role: 'user', content: 'What colour?' },
      ],
    });
    await icl.answer('The colour of quorinium is', { raw: true });
    expect(model.requests[1].prompt).toEqual({
      raw: 'Read the passage, then answer the question.\n\nPassage: Quorinium glows green.\n\nThe colour of quorinium is',
    });
  });

  it('composes explicit adapters with their weights, without retrieval', async () => {
    const model = recording();
    const composed: Array<{ ids: string[]; weights?: readonly number[] }> = [];
    const lora = { rank: 2, targets: ['down_proj'], modules: new Map() } as unknown as LoraWeights;
    const rg = createAnswerer(
      {
        model,
        retriever: { search: async () => expect.fail('cat_all_one with explicit adapters retrieves nothing') },
        adapters: { load: async (id: string) => (id === 'gone' ? null : id) },
        compose: (ids: string[], weights?: readonly number[]) => {
          composed.push({ ids, weights });
          return lora;
        },
      },
      { method: 'cat_all_one', topk: 3, maxNewTokens: 4, compose: 'mean' },
    );
    const a = await rg.answer('q', { adapters: [{ id: 'a', weight: 0.25 }, { id: 'gone' }, { id: 'b' }] });
    expect(composed).toEqual([{ ids: ['a', 'b'], weights: [0.25, 1] }]);
    expect(a).toMatchObject({ adapters: ['a', 'b'], missingAdapters: ['gone'], adapterWeights: [0.25, 1], retrieved: [] });
    expect(model.requests[0].adapters).toBe(lora);
  });

  it('refuses what a model without complete() cannot do, naming it', async () => {
    const wo = createAnswerer(
      { model: { generate: async () => 'x', continuationLogLikelihoods: async () => [] } },
      { method: 'wo_param', topk: 1, maxNewTokens: 4 },
    );
    await expect(wo.answer('q', { onDelta: () => {} })).rejects.toThrow(/no complete\(\): cannot take onDelta/);
    expect((await wo.answer('q')).text).toBe('x');
  });
});
