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
