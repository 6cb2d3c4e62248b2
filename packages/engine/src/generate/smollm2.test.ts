import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoadedModel, loadModel } from '../model/load.js';
import { OrtCausalLM } from '../runtime/causal-lm.js';
import { generate } from './generate.js';

interface FixtureCase {
  name: string;
  ids: number[];
  top5: { ids: number[]; logits: number[] };
  greedy: number[];
}
const fixture = JSON.parse(readFileSync(new URL('../../fixtures/smollm2-reference.json', import.meta.url), 'utf8')) as {
  newTokens: number;
  cases: FixtureCase[];
};

function topK(logits: Float32Array, k: number): number[] {
  return Array.from(logits.keys())
    .sort((a, b) => logits[b] - logits[a])
    .slice(0, k);
}

// SmolLM2-135M-Instruct (the default model, pulled on first use) against transformers' fp32 forward
// of the same GGUF (tools/reference/smollm2_reference.py).
describe('SmolLM2-135M vs transformers', () => {
  let model: LoadedModel;
  let lm: OrtCausalLM;
  beforeAll(async () => {
    model = await loadModel('smollm2-135m-instruct', { pull: true });
    // No LoRA inputs: this test is about the base model (the LoRA graph is checked on tiny models).
    lm = await OrtCausalLM.load(model.config, model.weights, { threads: 2, loraTargets: [] });
  });
  afterAll(() => lm?.dispose());

  for (const c of fixture.cases) {
    it(`${c.name}: top-5 ids equal, logits within 1e-3 relative, greedy ${fixture.newTokens} tokens identical`, async () => {
      const { logits } = await lm.forward({ ids: c.ids });
      expect(topK(logits, 5)).toEqual(c.top5.ids);
      for (const [i, id] of c.top5.ids.entries()) {
        expect(Math.abs(logits[id] - c.top5.logits[i])).toBeLessThanOrEqual(1e-3 * Math.abs(c.top5.logits[i]));
      }
      const out = await generate(lm, c.ids, { maxNewTokens: fixture.newTokens, eosTokenIds: [] });
      expect(out.tokens).toEqual(c.greedy);
    });
  }
});
