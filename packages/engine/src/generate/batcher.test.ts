import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoraWeights } from '@rg/lora';
import { composeCat } from '@rg/lora';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoadedModel, loadModel } from '../model/load.js';
import { randomLora } from '../reference/random-lora.js';
import { type AdapterSet, OrtCausalLM } from '../runtime/causal-lm.js';
import { writeTinyModel } from '../testing.js';
import { DecodeBatcher } from './batcher.js';
import { type GenerateOptions, generate } from './generate.js';

const dir = mkdtempSync(join(tmpdir(), 'rg-batcher-'));
let model: LoadedModel;
const texts = ['hello', 'the quick brown fox jumps over', 'a', 'retrievable gradient adapters per document', 'zzz 123'];

beforeAll(async () => {
  model = await loadModel(writeTinyModel(join(dir, 'tiny')));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Random adapters of different ranks and targets per request, and one request without any. */
function requestLoras(): Array<LoraWeights | null> {
  const c = model.config;
  return [
    randomLora(c, 2, ['q_proj', 'v_proj', 'down_proj'], 11, 0.5),
    composeCat(
      [1, 2, 3].map((s) => ({
        weights: randomLora(c, 2, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], s, 0.5),
      })),
    ),
    null,
    randomLora(c, 4, ['gate_proj', 'up_proj'], 12, 0.5),
    randomLora(c, 1, ['o_proj'], 13, 0.5),
  ];
}

describe.each([false, true])('DecodeBatcher (worker: %s)', (worker) => {
  let lm: OrtCausalLM;
  let adapters: Array<AdapterSet | null>;
  let prompts: number[][];
  beforeAll(async () => {
    lm = await OrtCausalLM.load(model.config, model.weights, { threads: 1, worker });
    adapters = await Promise.all(requestLoras().map((l) => (l ? lm.prepareAdapters(l) : null)));
    prompts = texts.map((t) => model.tokenizer.encode(t));
  });
  afterAll(() => lm.dispose());

  it('greedy: concurrent requests joining and leaving give the tokens of generate() alone', async () => {
    const options = (i: number): GenerateOptions => ({ maxNewTokens: [6, 17, 9, 12, 14][i], adapters: adapters[i], eosTokenIds: [] });
    const alone = [];
    for (const [i, p] of prompts.entries()) alone.push(await generate(lm, p, options(i)));
    // The adapters make the rows differ (a check that each row really gets its own).
    expect(new Set(alone.map((r) => r.tokens.slice(0, 6).join())).size).toBe(prompts.length);

    // 3 rows for 5 requests: two wait, and join as the shortest ones leave.
    const batcher = new DecodeBatcher(lm, { maxBatch: 3 });
    let mostActive = 0;
    const streamed = prompts.map(() => [] as number[]);
    const results = await Promise.all(
      prompts.map((p, i) =>
        batcher.generate(p, {
          ...options(i),
          onToken: (t) => {
            streamed[i].push(t);
            mostActive = Math.max(mostActive, batcher.active);
          },
        }),
      ),
    );
    for (const [i, r] of results.entries()) {
      expect(r.tokens).toEqual(alone[i].tokens);
      expect(r.finishReason).toBe('length');
      expect(streamed[i]).toEqual(r.tokens);
    }
    expect(mostActive).toBe(3);
    const stats = batcher.stats;
    expect(stats.prefills).toBe(5);
    // Every token after the first comes from a batched step; fewer steps than tokens means rows shared them.
    expect(stats.decodedTokens).toBe(results.reduce((s, r) => s + r.tokens.length - 1, 0));
    expect(stats.steps).toBeLessThan(stats.decodedTokens / 2);
    expect(batcher.active + batcher.queued).toBe(0);
  });

  it('a request alone steps with the single-row forward: every step solo, the tokens of generate()', async () => {
    const options: GenerateOptions = { maxNewTokens: 12, adapters: adapters[1], eosTokenIds: [] };
    const alone = await generate(lm, prompts[1], options);
    const batcher = new DecodeBatcher(lm);
    const result = await batcher.generate(prompts[1], options);
    expect(result).toEqual(alone);
    expect(batcher.stats).toMatchObject({ prefills: 1, steps: 11, soloSteps: 11, decodedTokens: 11 });
  });

  it('greedy: a second request joining mid-way, then leaving, gives both the tokens of generate() alone', async () => {
    const first: GenerateOptions = { maxNewTokens: 16, adapters: adapters[0], eosTokenIds: [] };
    const second: GenerateOptions = { maxNewTokens: 5, adapters: adapters[3], eosTokenIds: [] };
    const alone = [await generate(lm, prompts[3], first), await generate(lm, prompts[1], second)];
    const batcher = new DecodeBatcher(lm);
    // The batch size each of the first request's tokens came out of: alone, then with the second, then alone again.
    const activeAt: number[] = [];
    let joined: Promise<unknown> | undefined;
    const firstRun = batcher.generate(prompts[3], {
      ...first,
      onToken: () => {
        activeAt.push(batcher.active);
        if (activeAt.length === 4) joined = batcher.generate(prompts[1], second);
      },
    });
    const firstResult = await firstRun;
    const secondResult = await joined;
    expect(firstResult.tokens).toEqual(alone[0].tokens);
    expect(secondResult).toEqual(alone[1]);
    const runs = activeAt.map((n, i) => (i === 0 || n !== activeAt[i - 1] ? n : null)).filter((n) => n !== null);
    expect(runs).toEqual([1, 2, 1]);
    const stats = batcher.stats;
    expect(stats.decodedTokens).toBe(15 + 4);
    // Four batched steps produced the second request's 4 tokens after its prefill, and 4 of the first's.
    expect(stats.steps - stats.soloSteps).toBe(4);
    expect(stats.soloSteps).toBe(15 - 4);
  });

  it('unbatchCache refuses a row outside the batch cache', async () => {
    const { cache } = await lm.forward({ ids: prompts[0] });
    const batch = await lm.batchCaches([cache]);
    await expect(lm.unbatchCache(batch, 1)).rejects.toThrow('unbatchCache: row 1 outside a batch cache of 1');
    const single = await lm.unbatchCache(batch, 0);
    expect(single.length).toBe(prompts[0].length);
    for (const h of [cache, batch, single]) lm.release(h);
  });

  it('eos, stop strings with the tokenizer, and seeded sampling match generate() alone', async () => {
    const decode = (ids: number[]) => model.tokenizer.decode(ids);
    const free = await generate(lm, prompts[1], { maxNewTokens: 12, adapters: adapters[1], eosTokenIds: [] });
    const freeText = decode(free.tokens);
    const requests: Array<{ prompt: number[]; options: GenerateOptions }> = [
      { prompt: prompts[1], options: { maxNewTokens: 12, adapters: adapters[1], eosTokenIds: [free.tokens[5]] } },
      {
        prompt: prompts[1],
        options: { maxNewTokens: 12, adapters: adapters[1], eosTokenIds: [], stopStrings: [freeText.slice(4, 6)], decode },
      },
      { prompt: prompts[0], options: { maxNewTokens: 10, adapters: adapters[0], temperature: 0.9, topK: 50, topP: 0.95, seed: 4 } },
      { prompt: prompts[3], options: { maxNewTokens: 10, adapters: adapters[2], temperature: 1.2, seed: 9, decode } },
    ];
    const alone = [];
    for (const r of requests) alone.push(await generate(lm, r.prompt, r.options));
    expect(alone[0].finishReason).toBe('eos');
    expect(alone[1].finishReason).toBe('stop');
    const batcher = new DecodeBatcher(lm);
    const results = await Promise.all(requests.map((r) => batcher.generate(r.prompt, r.options)));
    expect(results).toEqual(alone);
  });

  it('an aborted request rejects and leaves; the others are unaffected', async () => {
    const batcher = new DecodeBatcher(lm, { maxBatch: 2 });
    const options = (i: number): GenerateOptions => ({ maxNewTokens: 10, adapters: adapters[i], eosTokenIds: [] });
    const alone = [await generate(lm, prompts[0], options(0)), await generate(lm, prompts[3], options(3))];

    const decoding = new AbortController();
    const waiting = new AbortController();
    let aborted = 0;
    const abortedRun = batcher.generate(prompts[1], {
      ...options(1),
      signal: decoding.signal,
      onToken: () => {
        if (++aborted === 3) decoding.abort();
      },
    });
    const kept = batcher.generate(prompts[0], options(0));
    // maxBatch 2: this one waits for a row, and is aborted before it gets one.
    const queued = batcher.generate(prompts[2], { ...options(2), signal: waiting.signal });
    const later = batcher.generate(prompts[3], options(3));
    // Rejections are awaited below; the expectations attach their handlers now, before they happen.
    const queuedRejects = expect(queued).rejects.toThrow('client went away');
    const abortedRejects = expect(abortedRun).rejects.toMatchObject({ name: 'AbortError' });
    const queuedBefore = batcher.queued;
    waiting.abort(new Error('client went away'));
    expect(batcher.queued).toBe(queuedBefore - 1);
    await queuedRejects;
    await abortedRejects;
    expect(aborted).toBe(3);
    expect((await kept).tokens).toEqual(alone[0].tokens);
    expect((await later).tokens).toEqual(alone[1].tokens);
    // Three prefills: the request aborted while waiting never ran.
    expect(batcher.stats.prefills).toBe(3);

    const before = new AbortController();
    before.abort();
    await expect(batcher.generate(prompts[0], { signal: before.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it("a request's failing callback or bad ids fail that request only", async () => {
    const batcher = new DecodeBatcher(lm);
    const options = { maxNewTokens: 8, adapters: adapters[4], eosTokenIds: [] };
    const alone = await generate(lm, prompts[4], options);
    let calls = 0;
    const failing = batcher.generate(prompts[0], {
      maxNewTokens: 8,
      onToken: () => {
        if (++calls === 4) throw new Error('stream closed');
      },
    });
    const bad = batcher.generate([model.config.vocabSize], { maxNewTokens: 3 });
    const fine = batcher.generate(prompts[4], options);
    const failingRejects = expect(failing).rejects.toThrow('stream closed');
    const badRejects = expect(bad).rejects.toThrow(/outside the vocabulary/);
    await failingRejects;
    await badRejects;
    expect((await fine).tokens).toEqual(alone.tokens);
    expect(() => new DecodeBatcher(lm, { maxBatch: 0 })).toThrow(/maxBatch/);
  });
});
