import type { LoraWeights } from '@rg/lora';
import { composeCat } from '@rg/lora';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmax } from '../generate/logits-process.js';
import { randomLora } from '../reference/random-lora.js';
import { randomLlamaWeights, tinyLlamaConfig } from '../train/tiny-model.js';
import { type AdapterSet, type KvCache, OrtCausalLM } from './causal-lm.js';

const config = tinyLlamaConfig({ eosTokenIds: [] });
const weights = randomLlamaWeights(config, 3);
const prompts = [
  [4, 9, 1, 27, 3],
  [8, 8, 2, 30, 11, 5, 6, 19, 22],
  [12, 7, 31],
  [1, 2, 3, 4, 5, 6, 7],
];
// Different ranks and targets per row, and one row without adapters: the stacked inputs are zero-padded per module.
const loras: Array<LoraWeights | null> = [
  randomLora(config, 2, ['q_proj', 'v_proj', 'down_proj'], 5, 0.5),
  composeCat(
    [randomLora(config, 2, ['q_proj', 'o_proj', 'gate_proj'], 6, 0.5), randomLora(config, 2, ['q_proj', 'up_proj'], 7, 0.5)].map(
      (weights) => ({ weights }),
    ),
  ),
  null,
  randomLora(config, 3, ['k_proj', 'v_proj', 'up_proj', 'down_proj'], 8, 0.5),
];
const vocab = config.vocabSize;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.each([false, true])('forwardBatch (worker: %s)', (worker) => {
  let lm: OrtCausalLM;
  let sets: Array<AdapterSet | null>;
  beforeAll(async () => {
    lm = await OrtCausalLM.load(config, weights, { threads: 1, worker });
    sets = await Promise.all(loras.map((l) => (l ? lm.prepareAdapters(l) : null)));
  });
  afterAll(() => lm.dispose());

  it('rows with their own caches and adapters give the logits of single-row forwards; rows leave between steps', async () => {
    // Single-row reference: prefill, then two decode steps per row.
    const singles: Array<{ prefill: { cache: KvCache }; t1: number; t2: number; logits1: Float32Array; logits2: Float32Array }> = [];
    for (const [i, ids] of prompts.entries()) {
      const prefill = await lm.forward({ ids, adapters: sets[i] });
      const t1 = argmax(prefill.logits);
      const s1 = await lm.forward({ ids: [t1], cache: prefill.cache, adapters: sets[i] });
      const t2 = argmax(s1.logits);
      const s2 = await lm.forward({ ids: [t2], cache: s1.cache, adapters: sets[i] });
      singles.push({ prefill, t1, t2, logits1: s1.logits, logits2: s2.logits });
      lm.release(s1.cache);
      lm.release(s2.cache);
    }

    const cache = await lm.batchCaches(singles.map((s) => s.prefill.cache));
    expect(cache.lengths).toEqual(prompts.map((p) => p.length));
    const adapters = await lm.batchAdapters(sets);
    const step1 = await lm.forwardBatch({ ids: singles.map((s) => [s.t1]), cache, adapters });
    expect(step1.logits.length).toBe(prompts.length * vocab);
    for (const [b, s] of singles.entries())
      expect(maxAbsDiff(step1.logits.subarray(b * vocab, (b + 1) * vocab), s.logits1)).toBeLessThan(1e-4);
    expect(step1.cache.lengths).toEqual(prompts.map((p) => p.length + 1));

    // The longest row (1) leaves: the others' cache is trimmed to their own longest, adapters restacked.
    const kept = [0, 2, 3];
    const cache2 = await lm.batchCaches(kept.map((row) => ({ cache: step1.cache, row })));
    expect(cache2.lengths).toEqual(kept.map((b) => prompts[b].length + 1));
    const adapters2 = await lm.batchAdapters(kept.map((b) => sets[b]));
    const step2 = await lm.forwardBatch({ ids: kept.map((b) => [singles[b].t2]), cache: cache2, adapters: adapters2 });
    for (const [r, b] of kept.entries())
      expect(maxAbsDiff(step2.logits.subarray(r * vocab, (r + 1) * vocab), singles[b].logits2)).toBeLessThan(1e-4);

    for (const h of [cache, step1.cache, cache2, step2.cache, adapters, adapters2, ...singles.map((s) => s.prefill.cache)]) lm.release(h);
  });

  it('prefills rows of different lengths together (left padding), scores the last positions, decodes on', async () => {
    const adapters = await lm.batchAdapters(sets);
    const prefill = await lm.forwardBatch({ ids: prompts, adapters, numLogits: 3 });
    expect(prefill.cache.lengths).toEqual(prompts.map((p) => p.length));
    const next = prompts.map((_, b) => argmax(prefill.logits.subarray((b * 3 + 2) * vocab, (b * 3 + 3) * vocab)));
    // Padding queries see only masked keys: their states must stay finite, or the next step's softmax turns NaN.
    const step = await lm.forwardBatch({ ids: next.map((t) => [t]), cache: prefill.cache, adapters });
    for (const [b, ids] of prompts.entries()) {
      const single = await lm.forward({ ids, adapters: sets[b], numLogits: 3 });
      expect(maxAbsDiff(prefill.logits.subarray(b * 3 * vocab, (b + 1) * 3 * vocab), single.logits)).toBeLessThan(1e-4);
      const singleStep = await lm.forward({ ids: [next[b]], cache: single.cache, adapters: sets[b] });
      expect(maxAbsDiff(step.logits.subarray(b * vocab, (b + 1) * vocab), singleStep.logits)).toBeLessThan(1e-4);
      lm.release(single.cache);
      lm.release(singleStep.cache);
    }
    for (const h of [prefill.cache, step.cache, adapters]) lm.release(h);
  });

  it('without adapters every row is the base model; wrong shapes fail before running', async () => {
    const batch = await lm.forwardBatch({ ids: [prompts[0], prompts[2]] });
    for (const [r, b] of [0, 2].entries()) {
      const single = await lm.forward({ ids: prompts[b] });
      expect(maxAbsDiff(batch.logits.subarray(r * vocab, (r + 1) * vocab), single.logits)).toBeLessThan(1e-4);
      lm.release(single.cache);
    }
    await expect(lm.forwardBatch({ ids: [[1, 2], [3]], cache: batch.cache })).rejects.toThrow(/same number of ids/);
    await expect(lm.forwardBatch({ ids: [[1], [2], [3]], cache: batch.cache })).rejects.toThrow(/3 rows of ids for a cache of 2/);
    await expect(lm.forwardBatch({ ids: [[1], [vocab]], cache: batch.cache })).rejects.toThrow(/outside the vocabulary/);
    lm.release(batch.cache);
  });
});

describe.each(['q8', 'q4'] as const)('forwardBatch with %s weights (what rg serve --weights batches)', (format) => {
  // Wide enough for blocks of 32: at the tiny model's hidden 16 nothing would be quantized.
  const wide = tinyLlamaConfig({ eosTokenIds: [], hiddenSize: 64, intermediateSize: 96, headDim: 16, vocabSize: 48 });
  const wideWeights = randomLlamaWeights(wide, 4);

  it('rows with their own adapters give the logits of single-row forwards on the same compact weights', async () => {
    const lm = await OrtCausalLM.load(wide, wideWeights, { threads: 1, weightFormat: format });
    try {
      // As a batching server does at start; preparing twice makes one session.
      await Promise.all([lm.prepareBatched(), lm.prepareBatched()]);
      const rowLoras = [randomLora(wide, 2, ['q_proj', 'down_proj'], 5, 0.5), null, randomLora(wide, 2, ['v_proj', 'up_proj'], 6, 0.5)];
      const sets = await Promise.all(rowLoras.map((l) => (l ? lm.prepareAdapters(l) : null)));
      const rows = [
        [4, 9, 1, 27],
        [8, 8, 2, 30, 11, 5],
        [12, 7],
      ];
      const adapters = await lm.batchAdapters(sets);
      const batch = await lm.forwardBatch({ ids: rows, adapters });
      for (const [b, ids] of rows.entries()) {
        const single = await lm.forward({ ids, adapters: sets[b] });
        const row = batch.logits.subarray(b * wide.vocabSize, (b + 1) * wide.vocabSize);
        // The same int8-activation kernels on both paths: equal up to summation order.
        expect(maxAbsDiff(row, single.logits)).toBeLessThan(1e-3);
        lm.release(single.cache);
      }
      for (const h of [batch.cache, adapters]) lm.release(h);
    } finally {
      await lm.dispose();
    }
  });
});
