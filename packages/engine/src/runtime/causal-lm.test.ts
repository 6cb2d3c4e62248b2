import { composeCat } from '@rg/lora';
import { describe, expect, it } from 'vitest';
import type { ModelConfig, ModelWeights } from '../model/config.js';
import { referenceForward } from '../reference/llama.js';
import { randomLora } from '../reference/random-lora.js';
import { randomLlamaWeights as randomWeights, tinyLlamaConfig as tinyConfig } from '../train/tiny-model.js';
import { OrtCausalLM } from './causal-lm.js';

const ids = [5, 17, 3, 30, 22, 9, 11];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function allLogits(lm: OrtCausalLM, tokens: number[], lora: Parameters<OrtCausalLM['prepareAdapters']>[0] = null) {
  const adapters = await lm.prepareAdapters(lora);
  return (await lm.forward({ ids: tokens, adapters, numLogits: tokens.length })).logits;
}

const configs: Array<[string, ModelConfig]> = [
  ['llama (GQA 4/2, tied)', tinyConfig()],
  [
    'llama 3 rope scaling',
    tinyConfig({
      ropeTheta: 500000,
      ropeScaling: { ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 16 },
    }),
  ],
  ['qwen2 (q/k/v biases, untied)', tinyConfig({ architecture: 'qwen2', attentionBias: true, tieWordEmbeddings: false })],
  ['multi-head (no GQA), untied', tinyConfig({ numKvHeads: 4, tieWordEmbeddings: false })],
  ['GQA 6/2, headDim 8', tinyConfig({ numHeads: 6, numKvHeads: 2, headDim: 8, hiddenSize: 24 })],
];

describe('ORT forward vs float64 reference', () => {
  for (const [name, config] of configs) {
    it(name, async () => {
      const weights = randomWeights(config);
      const lm = await OrtCausalLM.load(config, weights, { threads: 1 });
      const got = await allLogits(lm, ids);
      const want = referenceForward(config, weights, ids).flatMap((row) => Array.from(row));
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
      // Not a trivial model: logits vary across the vocabulary.
      expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(0.5);
    });
  }

  it('checks the llama 3 scaling actually changes the logits', () => {
    const [, plain] = configs[0];
    const [, scaled] = configs[1];
    const weights = randomWeights(plain);
    const a = referenceForward({ ...plain, ropeTheta: 500000 }, weights, ids).flatMap((r) => Array.from(r));
    const b = referenceForward(scaled, weights, ids).flatMap((r) => Array.from(r));
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-3);
  });
});

describe('KV cache', () => {
  it('prefill + one-token decode steps equal the full-sequence recompute', async () => {
    const config = configs[2][1];
    const weights = randomWeights(config);
    const lm = await OrtCausalLM.load(config, weights, { threads: 1 });
    const full = await allLogits(lm, ids);
    const v = config.vocabSize;
    let step = await lm.forward({ ids: ids.slice(0, 3) });
    expect(maxAbsDiff(step.logits, full.subarray(2 * v, 3 * v))).toBeLessThan(1e-5);
    for (let i = 3; i < ids.length; i++) {
      step = await lm.forward({ ids: [ids[i]], cache: step.cache });
      expect(step.cache.length).toBe(i + 1);
      expect(maxAbsDiff(step.logits, full.subarray(i * v, (i + 1) * v))).toBeLessThan(1e-5);
    }
    // A multi-token chunk after a cache works too (speculative/continuation scoring).
    const first = await lm.forward({ ids: ids.slice(0, 2) });
    const rest = await lm.forward({ ids: ids.slice(2), cache: first.cache, numLogits: ids.length - 2 });
    expect(maxAbsDiff(rest.logits, full.subarray(2 * v))).toBeLessThan(1e-5);
  });

  // The cache grows in place in blocks of 128 columns: these cross two block boundaries, fork a cache (two
  // continuations of one prefix must not see each other's tokens), and batch caches of different capacities.
  const long = Array.from({ length: 300 }, (_, i) => (i * 7 + 3) % 32);
  const lastLogits = async (lm: OrtCausalLM, tokens: number[]) => (await lm.forward({ ids: tokens })).logits;

  it('decoding past the cache capacity, released caches reused, equals the full recompute', async () => {
    const config = configs[0][1];
    const lm = await OrtCausalLM.load(config, randomWeights(config), { threads: 1 });
    const v = config.vocabSize;
    const full = await allLogits(lm, long);
    let step = await lm.forward({ ids: long.slice(0, 100) });
    for (let i = 100; i < long.length; i++) {
      const next = await lm.forward({ ids: [long[i]], cache: step.cache });
      lm.release(step.cache);
      step = next;
      expect(maxAbsDiff(step.logits, full.subarray(i * v, (i + 1) * v))).toBeLessThan(1e-4);
    }
    lm.release(step.cache);
    // A second sequence runs on buffers the first one gave back: still exact.
    const again = await lm.forward({ ids: long.slice(0, 130) });
    const after = await lm.forward({ ids: long.slice(130, 140), cache: again.cache, numLogits: 10 });
    expect(maxAbsDiff(after.logits, full.subarray(130 * v, 140 * v))).toBeLessThan(1e-4);
  });

  it('two continuations of one cache do not see each other, and batch with the single-row caches', async () => {
    const config = configs[3][1];
    const lm = await OrtCausalLM.load(config, randomWeights(config), { threads: 1 });
    const prefix = long.slice(0, 127);
    const shared = (await lm.forward({ ids: prefix })).cache;
    const a1 = await lm.forward({ ids: [1], cache: shared }); // appended in place (room left in the first block)
    const b1 = await lm.forward({ ids: [2], cache: shared }); // the same column again: must not overwrite a1's
    const a2 = await lm.forward({ ids: [3, 4], cache: a1.cache, numLogits: 2 }); // crosses the block boundary
    const b2 = await lm.forward({ ids: [5], cache: b1.cache });
    const v = config.vocabSize;
    expect(maxAbsDiff(a1.logits, await lastLogits(lm, [...prefix, 1]))).toBeLessThan(1e-4);
    expect(maxAbsDiff(b1.logits, await lastLogits(lm, [...prefix, 2]))).toBeLessThan(1e-4);
    expect(maxAbsDiff(a2.logits.subarray(v), await lastLogits(lm, [...prefix, 1, 3, 4]))).toBeLessThan(1e-4);
    expect(maxAbsDiff(b2.logits, await lastLogits(lm, [...prefix, 2, 5]))).toBeLessThan(1e-4);
    // Rows of different lengths and capacities in one batch, then one row back out.
    const batch = await lm.batchCaches([a2.cache, b2.cache, shared]);
    const step = await lm.forwardBatch({ ids: [[6], [7], [8]], cache: batch });
    const rows = [
      [...prefix, 1, 3, 4, 6],
      [...prefix, 2, 5, 7],
      [...prefix, 8],
    ];
    for (let r = 0; r < rows.length; r++) {
      expect(maxAbsDiff(step.logits.subarray(r * v, (r + 1) * v), await lastLogits(lm, rows[r]))).toBeLessThan(1e-4);
    }
    const single = await lm.unbatchCache(step.cache, 1);
    const tail = await lm.forward({ ids: [9], cache: single });
    expect(maxAbsDiff(tail.logits, await lastLogits(lm, [...rows[1], 9]))).toBeLessThan(1e-4);
  });
});

describe('LoRA inputs', () => {
  const config = tinyConfig({ attentionBias: true });
  const weights: ModelWeights = randomWeights(config);
  const all = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

  it('matches the reference with an adapter on every target, rank 0 equals no adapter', async () => {
    const lm = await OrtCausalLM.load(config, weights, { threads: 1 });
    const lora = randomLora(config, 3, all);
    const got = await allLogits(lm, ids, lora);
    const want = referenceForward(config, weights, ids, lora).flatMap((r) => Array.from(r));
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
    const base = await allLogits(lm, ids);
    expect(maxAbsDiff(got, base)).toBeGreaterThan(1e-2);
    const rank0 = await allLogits(lm, ids, randomLora(config, 0, all));
    expect(maxAbsDiff(rank0, base)).toBe(0);
  });

  it('k concatenated adapters equal the sum of their deltas, switching adapters needs no new session', async () => {
    const lm = await OrtCausalLM.load(config, weights, { threads: 1 });
    const a1 = randomLora(config, 2, ['q_proj', 'v_proj'], 11);
    const a2 = randomLora(config, 2, ['gate_proj', 'down_proj', 'q_proj'], 12);
    const a3 = randomLora(config, 1, ['o_proj', 'up_proj', 'k_proj'], 13);
    const cat = composeCat([a1, a2, a3].map((weights) => ({ weights })));
    // One rank for every module of the set: a module an adapter lacks gets zero rows (q_proj: a1 and a2 only).
    expect(cat.modules.get('0.q_proj')?.rank).toBe(5);
    // ORT on the concatenation vs the reference adding each adapter's own delta.
    const got = await allLogits(lm, ids, cat);
    const want = referenceForward(config, weights, ids, [a1, a2, a3]).flatMap((r) => Array.from(r));
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
    const without3 = referenceForward(config, weights, ids, [a1, a2]).flatMap((r) => Array.from(r));
    expect(maxAbsDiff(got, without3)).toBeGreaterThan(1e-3);

    // Same session, adapters changed between runs, back to none: exact base logits again.
    const base = await allLogits(lm, ids);
    const only1 = await allLogits(lm, ids, a1);
    expect(
      maxAbsDiff(
        only1,
        referenceForward(config, weights, ids, a1).flatMap((r) => Array.from(r)),
      ),
    ).toBeLessThan(1e-4);
    expect(maxAbsDiff(await allLogits(lm, ids), base)).toBe(0);
  });

  it('rejects an adapter that does not fit the model, naming the module', async () => {
    const lm = await OrtCausalLM.load(config, weights, { threads: 1, loraTargets: ['q_proj', 'v_proj'] });
    await expect(lm.prepareAdapters(randomLora(config, 2, ['down_proj']))).rejects.toThrow(
      /0\.down_proj.*not one of this model's LoRA targets/,
    );
    const wrong = randomLora(tinyConfig({ hiddenSize: 48, headDim: 12 }), 2, ['q_proj']);
    await expect(lm.prepareAdapters(wrong)).rejects.toThrow(/0\.q_proj.*does not fit/);
  });
});
