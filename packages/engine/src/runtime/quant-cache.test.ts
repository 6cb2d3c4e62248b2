import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelWeights } from '../model/config.js';
import { randomLlamaWeights, tinyLlamaConfig } from '../train/tiny-model.js';
import { OrtCausalLM } from './causal-lm.js';

const dir = mkdtempSync(join(tmpdir(), 'rg-quant-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = tinyLlamaConfig({ hiddenSize: 64, intermediateSize: 96, numHeads: 4, numKvHeads: 2, headDim: 16, vocabSize: 48 });
const ids = [1, 5, 9, 13, 40, 2];

/** Weights whose fp32 projections count how often they are read (`data` or `read()`). */
function counted(weights: ModelWeights): { weights: ModelWeights; reads: () => number } {
  let reads = 0;
  const out: ModelWeights = new Map();
  for (const [name, t] of weights) {
    if (t.dims.length === 2 && name.includes('layers')) {
      out.set(name, {
        dims: t.dims,
        get data() {
          reads++;
          return t.data;
        },
      });
    } else out.set(name, t);
  }
  return { weights: out, reads: () => reads };
}

async function logits(weights: ModelWeights, format: 'q8' | 'q4', cacheDir?: string, perRow = false) {
  const lm = await OrtCausalLM.load(config, weights, {
    threads: 1,
    weightFormat: format,
    quantCache: cacheDir ? { dir: cacheDir, key: 'tiny' } : undefined,
  });
  try {
    if (perRow) await lm.prepareBatched();
    return Array.from((await lm.forward({ ids, numLogits: ids.length })).logits);
  } finally {
    await lm.dispose();
  }
}

describe('quantization cache', () => {
  it('a second load reads the quantized projections from the cache: the same logits, no fp32 projection read', async () => {
    for (const format of ['q8', 'q4'] as const) {
      const cacheDir = join(dir, format);
      const base = randomLlamaWeights(config, 4);
      const fresh = await logits(base, format);
      const first = counted(base);
      expect(await logits(first.weights, format, cacheDir)).toEqual(fresh);
      expect(first.reads()).toBeGreaterThan(0);
      expect(readdirSync(cacheDir).filter((f) => f.endsWith('.bin'))).toHaveLength(1);
      const second = counted(base);
      expect(await logits(second.weights, format, cacheDir)).toEqual(fresh);
      expect(second.reads()).toBe(0);
    }
  });

  it('a cache file that does not fit the graph is ignored and written again', async () => {
    const cacheDir = join(dir, 'bad');
    const base = randomLlamaWeights(config, 5);
    const fresh = await logits(base, 'q8');
    await logits(base, 'q8', cacheDir);
    const [file] = readdirSync(cacheDir);
    writeFileSync(join(cacheDir, file), new Uint8Array(10));
    const again = counted(base);
    expect(await logits(again.weights, 'q8', cacheDir)).toEqual(fresh);
    expect(again.reads()).toBeGreaterThan(0);
    expect(await logits(base, 'q8', cacheDir)).toEqual(fresh);
  });

  it("a replaced model's files (same owner, another key) are removed when the new ones are written", async () => {
    const cacheDir = join(dir, 'owner');
    const base = randomLlamaWeights(config, 6);
    const load = (key: string) =>
      OrtCausalLM.load(config, base, { threads: 1, weightFormat: 'q8', quantCache: { dir: cacheDir, key, owner: '/models/m.gguf' } }).then(
        (lm) => lm.dispose(),
      );
    await load('/models/m.gguf|100|1');
    const [before] = readdirSync(cacheDir);
    await load('/models/m.gguf|100|2');
    const after = readdirSync(cacheDir);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before);
    expect(after[0].split('-')[0]).toBe(before.split('-')[0]);
  });
});
