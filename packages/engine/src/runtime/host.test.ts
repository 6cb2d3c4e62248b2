import type { LoraWeights } from '@rg/lora';
import { describe, expect, it } from 'vitest';
import { randomLora } from '../reference/random-lora.js';
import { randomLlamaWeights, tinyLlamaConfig } from '../train/tiny-model.js';
import { OrtCausalLM } from './causal-lm.js';

/** Timer ticks that fire while `work` runs: 0 when the event loop is blocked. */
async function ticksDuring(work: () => Promise<unknown>): Promise<{ ticks: number; ms: number }> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 2);
  await new Promise((r) => setTimeout(r, 10));
  ticks = 0;
  const start = performance.now();
  await work();
  const ms = performance.now() - start;
  clearInterval(timer);
  return { ticks, ms };
}

describe('worker host', () => {
  const config = tinyLlamaConfig();
  const weights = randomLlamaWeights(config, 5);
  const ids = [3, 1, 4, 1, 5, 9, 2, 6];

  it('gives the same logits, caches and adapter handling as in-process', async () => {
    const local = await OrtCausalLM.load(config, weights, { threads: 1 });
    const remote = await OrtCausalLM.load(config, weights, { threads: 1, worker: true });
    try {
      const lora = randomLora(config, 2, ['q_proj', 'up_proj']);
      const [la, ra] = await Promise.all([local.prepareAdapters(lora), remote.prepareAdapters(lora)]);
      const l1 = await local.forward({ ids, adapters: la, numLogits: ids.length });
      const r1 = await remote.forward({ ids, adapters: ra, numLogits: ids.length });
      expect(Array.from(r1.logits)).toEqual(Array.from(l1.logits));
      const l2 = await local.forward({ ids: [7], cache: l1.cache, adapters: la });
      const r2 = await remote.forward({ ids: [7], cache: r1.cache, adapters: ra });
      expect(Array.from(r2.logits)).toEqual(Array.from(l2.logits));
      remote.release(r1.cache);
      await expect(remote.forward({ ids: [7], cache: r1.cache })).rejects.toThrow(/released handle/);
    } finally {
      await Promise.all([local.dispose(), remote.dispose()]);
    }
  });

  it('takes adapter sets in shared memory (a server composing for its worker): same logits, copies reused safely', async () => {
    const inShared = (lora: LoraWeights): LoraWeights => ({
      ...lora,
      modules: new Map(
        [...lora.modules].map(([key, m]) => {
          const a = new Float32Array(new SharedArrayBuffer(m.a.byteLength));
          const b = new Float32Array(new SharedArrayBuffer(m.b.byteLength));
          a.set(m.a);
          b.set(m.b);
          return [key, { ...m, a, b }];
        }),
      ),
    });
    const local = await OrtCausalLM.load(config, weights, { threads: 1 });
    const remote = await OrtCausalLM.load(config, weights, { threads: 1, worker: true });
    try {
      const first = randomLora(config, 2, ['q_proj', 'up_proj'], 1);
      const second = randomLora(config, 2, ['q_proj', 'up_proj'], 2);
      const plain = await local.prepareAdapters(second);
      const want = (await local.forward({ ids, adapters: plain, numLogits: ids.length })).logits;
      for (const lm of [local, remote]) {
        // The first set's copies go back to the host's pool and are reused for the second: nothing of the first stays.
        lm.release(await lm.prepareAdapters(inShared(first)));
        const set = await lm.prepareAdapters(inShared(second));
        const got = await lm.forward({ ids, adapters: set, numLogits: ids.length });
        expect(Array.from(got.logits)).toEqual(Array.from(want));
        lm.release(set);
        lm.release(got.cache);
      }
    } finally {
      await Promise.all([local.dispose(), remote.dispose()]);
    }
  });

  it('keeps the event loop responsive while a forward runs (in-process blocks it)', async () => {
    const big = tinyLlamaConfig({ hiddenSize: 256, intermediateSize: 1024, numLayers: 2, numHeads: 8, numKvHeads: 2, headDim: 32 });
    const bigWeights = randomLlamaWeights(big, 2);
    // Long enough that the forward takes well over 20 ms even on a quiet machine (256 tokens took 18 ms once).
    const long = Array.from({ length: 1024 }, (_, i) => (i * 7) % big.vocabSize);
    const local = await OrtCausalLM.load(big, bigWeights, { threads: 1 });
    const remote = await OrtCausalLM.load(big, bigWeights, { threads: 1, worker: true });
    try {
      const blocked = await ticksDuring(() => local.forward({ ids: long }));
      const free = await ticksDuring(() => remote.forward({ ids: long }));
      // A tick may slip in before ORT starts (the binding defers run to setImmediate), none during it.
      expect(blocked.ticks, JSON.stringify(blocked)).toBeLessThanOrEqual(1);
      expect(free.ms).toBeGreaterThan(20);
      expect(free.ticks, JSON.stringify(free)).toBeGreaterThanOrEqual(3);
    } finally {
      await Promise.all([local.dispose(), remote.dispose()]);
    }
  });
});
