import { type LoraTarget, randomLlamaWeights, referenceForward, targetShape, tinyLlamaConfig } from '@rg/engine';
import { type LoraAdapter, type LoraPair, toLoraWeights } from '@rg/lora';
import { describe, expect, it } from 'vitest';
import { exampleGradient, GradientExampleError } from './gradient.js';

const config = tinyLlamaConfig();
const weights = randomLlamaWeights(config, 5);
const targets: LoraTarget[] = ['up_proj', 'down_proj'];

/** A rank-2 adapter with non-zero A and B (so that both gradients are non-trivial). */
function adapter(): LoraAdapter {
  const modules = new Map<string, LoraPair>();
  let s = 1;
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const t of targets) {
      const { inFeatures, outFeatures } = targetShape(config, t);
      const a = Float32Array.from({ length: 2 * inFeatures }, () => Math.sin(s++) * 0.3);
      const b = Float32Array.from({ length: outFeatures * 2 }, () => Math.cos(s++) * 0.05);
      modules.set(`${layer}.${t}`, { inFeatures, outFeatures, a, b });
    }
  }
  return { config: { rank: 2, alpha: 8, targetModules: targets, baseModel: null, useRslora: false, dropout: 0 }, modules };
}

/** Mean next-token cross-entropy over the positions after the prompt, in float64 through the reference forward. */
function referenceLoss(at: LoraAdapter, ids: number[], promptTokens: number): number {
  const logits = referenceForward(config, weights, ids, toLoraWeights(at));
  let sum = 0;
  let n = 0;
  for (let t = Math.max(promptTokens, 1); t < ids.length; t++) {
    const row = logits[t - 1];
    const max = Math.max(...row);
    let z = 0;
    for (const v of row) z += Math.exp(v - max);
    sum += Math.log(z) + max - row[ids[t]];
    n++;
  }
  return sum / n;
}

describe('exampleGradient', () => {
  const ids = [3, 17, 8, 29, 5, 11];
  const promptTokens = 2;

  it('equals central finite differences of the reference loss, for A and B, with the prompt unscored', async () => {
    const at = adapter();
    const r = await exampleGradient({ config, weights }, at, { ids, promptTokens });
    expect(r.loss).toBeCloseTo(referenceLoss(at, ids, promptTokens), 4);
    const h = 1e-3;
    for (const [key, which, index] of [
      ['0.up_proj', 'a', 5],
      ['1.down_proj', 'b', 3],
      ['1.up_proj', 'b', 0],
    ] as const) {
      const moved = (delta: number) => {
        const copy = adapter();
        (copy.modules.get(key) as LoraPair)[which][index] += delta;
        return referenceLoss(copy, ids, promptTokens);
      };
      const numeric = (moved(h) - moved(-h)) / (2 * h);
      const analytic = (r.gradient.modules.get(key) as LoraPair)[which][index];
      expect(Math.abs(analytic - numeric), `${key}.${which}[${index}]: ${analytic} vs ${numeric}`).toBeLessThan(
        1e-3 * Math.max(1, Math.abs(numeric)),
      );
    }
    // The gradient keeps the adapter's layout and config: it can be written as a PEFT folder and compared tensor by tensor.
    expect(r.gradient.config).toEqual(at.config);
    expect([...r.gradient.modules.keys()]).toEqual([...at.modules.keys()]);
  }, 60_000);

  it('refuses an example it cannot score, naming why', async () => {
    const at = adapter();
    await expect(exampleGradient({ config, weights }, at, { ids: [1, config.vocabSize] })).rejects.toThrow(GradientExampleError);
    await expect(exampleGradient({ config, weights }, at, { ids: [1, config.vocabSize] })).rejects.toThrow(/outside the vocabulary/);
    await expect(exampleGradient({ config, weights }, at, { ids: [4] })).rejects.toThrow(/no token to predict/);
    await expect(exampleGradient({ config, weights }, at, { ids: [4, 5], promptTokens: 2 })).rejects.toThrow(/no token to predict/);
  });
});
