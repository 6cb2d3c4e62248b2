import { beforeAll, describe, expect, it } from 'vitest';
import { referenceForward } from '../reference/llama.js';
import { randomLora } from '../reference/random-lora.js';
import { OrtCausalLM } from '../runtime/causal-lm.js';
import { randomLlamaWeights, tinyLlamaConfig } from '../train/tiny-model.js';
import { continuationLogLikelihood, generate, nextTokenLogits } from './generate.js';
import { argmax, softmax, topKProcessor, topPProcessor } from './logits-process.js';

const config = tinyLlamaConfig({ eosTokenIds: [] });
const weights = randomLlamaWeights(config, 3);
const prompt = [4, 9, 1, 27];
const decode = (ids: number[]) => ids.map((i) => String.fromCharCode(97 + (i % 26))).join('');
let lm: OrtCausalLM;

beforeAll(async () => {
  lm = await OrtCausalLM.load(config, weights, { threads: 1 });
});

/** Greedy decoding by full recompute with the float64 reference. */
function referenceGreedy(ids: number[], n: number, lora?: Parameters<typeof referenceForward>[3]): number[] {
  const seq = [...ids];
  for (let i = 0; i < n; i++) {
    const rows = referenceForward(config, weights, seq, lora);
    seq.push(argmax(rows[rows.length - 1]));
  }
  return seq.slice(ids.length);
}

describe('generate', () => {
  it('greedy equals the reference, step by step', async () => {
    const out = await generate(lm, prompt, { maxNewTokens: 12 });
    expect(out.tokens).toEqual(referenceGreedy(prompt, 12));
    expect(out.finishReason).toBe('length');
    expect(new Set(out.tokens).size).toBeGreaterThan(1);
  });

  it('greedy with an adapter follows the adapted model', async () => {
    const lora = randomLora(config, 4, ['q_proj', 'down_proj'], 5, 0.5);
    const out = await generate(lm, prompt, { maxNewTokens: 8, adapters: await lm.prepareAdapters(lora) });
    expect(out.tokens).toEqual(referenceGreedy(prompt, 8, lora));
  });

  it('stops on EOS (included) and on stop strings (text cut before them), streams tokens', async () => {
    const free = await generate(lm, prompt, { maxNewTokens: 12 });
    const eos = free.tokens[4];
    const first = free.tokens.indexOf(eos);
    const streamed: number[] = [];
    const out = await generate(lm, prompt, { maxNewTokens: 12, eosTokenIds: [eos], onToken: (t) => streamed.push(t) });
    expect(out.finishReason).toBe('eos');
    expect(out.tokens).toEqual(free.tokens.slice(0, first + 1));
    expect(streamed).toEqual(out.tokens);

    const fullText = decode(free.tokens);
    const stop = fullText.slice(6, 8);
    const cut = await generate(lm, prompt, { maxNewTokens: 12, stopStrings: [stop], decode });
    expect(cut.finishReason).toBe('stop');
    expect(cut.text).toBe(fullText.slice(0, fullText.indexOf(stop)));
  });

  it('sampling is deterministic per seed, varies across seeds, top-k 1 is greedy', async () => {
    const opts = { maxNewTokens: 16, temperature: 1.5, topP: 0.95 };
    const a = await generate(lm, prompt, { ...opts, seed: 1 });
    const b = await generate(lm, prompt, { ...opts, seed: 1 });
    expect(a.tokens).toEqual(b.tokens);
    const others = await Promise.all([2, 3, 4].map((seed) => generate(lm, prompt, { ...opts, seed })));
    expect(others.some((o) => o.tokens.join() !== a.tokens.join())).toBe(true);
    const greedy = await generate(lm, prompt, { maxNewTokens: 8 });
    const k1 = await generate(lm, prompt, { maxNewTokens: 8, temperature: 2, topK: 1, seed: 9 });
    expect(k1.tokens).toEqual(greedy.tokens);
  });
});

describe('logits processors', () => {
  it('top-p keeps the smallest nucleus reaching p, top-k the k largest', () => {
    const logits = Float32Array.from([Math.log(0.2), Math.log(0.5), Math.log(0.3)]);
    topPProcessor(0.6)(logits);
    expect(Array.from(logits.map((v) => (Number.isFinite(v) ? 1 : 0)))).toEqual([0, 1, 1]);
    const l2 = Float32Array.from([1, 5, 3, 4]);
    topKProcessor(2)(l2);
    expect(Array.from(l2)).toEqual([Number.NEGATIVE_INFINITY, 5, Number.NEGATIVE_INFINITY, 4]);
    expect(softmax([0, 0]).every((p) => p === 0.5)).toBe(true);
  });
});

describe('scoring', () => {
  it('next-token logits and continuation log-likelihood equal the reference', async () => {
    const next = await nextTokenLogits(lm, prompt);
    const rows = referenceForward(config, weights, prompt);
    const last = rows[rows.length - 1];
    expect(Math.max(...Array.from(next, (v, i) => Math.abs(v - last[i])))).toBeLessThan(1e-4);

    const continuation = [7, 3, 12];
    const { logLikelihood, tokenLogProbs } = await continuationLogLikelihood(lm, prompt, continuation);
    const full = referenceForward(config, weights, [...prompt, ...continuation]);
    const want = continuation.map((t, i) => {
      const row = full[prompt.length - 1 + i];
      return Math.log(softmax(row)[t]);
    });
    expect(Math.max(...tokenLogProbs.map((lp, i) => Math.abs(lp - want[i])))).toBeLessThan(1e-4);
    expect(Math.abs(logLikelihood - want.reduce((a, b) => a + b, 0))).toBeLessThan(3e-4);
  });
});
