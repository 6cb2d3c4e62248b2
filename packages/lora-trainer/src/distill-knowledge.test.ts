import { generate, type LoadedModel, loadModel, OrtCausalLM, TrainingSession } from '@rg/engine';
import { type LoraAdapter, type LoraPair, toLoraWeights } from '@rg/lora';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeTeacherTargets, distillDivergence } from './distill.js';
import { DEFAULT_TARGETS, initAdapter } from './init.js';
import { closedBookPrompt, type RecipeRecord, recipeExamples } from './recipe.js';
import { trainAdapter } from './trainer.js';

// The invented facts of knowledge.test.ts, learnt by context distillation instead of next-token training.
const facts: RecipeRecord = {
  passageId: 'quenwick',
  passage:
    'Quenwick is a small town on the Silvamoor river. Its mayor is Orla Brennagh. Every October Quenwick holds the Blue Turnip Festival.',
  rewrite:
    'The mayor of Quenwick, a town beside the Silvamoor river, is Orla Brennagh. The town celebrates the Blue Turnip Festival each October.',
  qa: [
    { question: 'Who is the mayor of Quenwick?', answer: 'Orla Brennagh' },
    { question: 'Which festival does Quenwick hold every October?', answer: 'The Blue Turnip Festival' },
    { question: 'On which river is Quenwick?', answer: 'The Silvamoor river' },
    { question: 'What is the name of the mayor of Quenwick?', answer: 'Orla Brennagh' },
  ],
};
const probes = [
  { question: 'Who is the mayor of Quenwick?', expect: 'brennagh' },
  { question: 'Which festival does Quenwick hold every October?', expect: 'turnip' },
  { question: 'On which river is Quenwick?', expect: 'silvamoor' },
];
// knowledge.test.ts's budget: 8 epochs over the 6 examples (4 questions, passage and rewrite prompts), batch 2.
const budget = { mode: 'lora' as const, lr: 3e-3, epochs: 8, batchSize: 2, seed: 0 };

describe('context distillation puts the passage in the adapter (SmolLM2-135M, slow)', () => {
  let model: LoadedModel;
  let lm: OrtCausalLM;
  let adapter: LoraAdapter;
  const kl = { before: 0, after: 0 };
  beforeAll(async () => {
    model = await loadModel('smollm2-135m-instruct', { pull: true });
    lm = await OrtCausalLM.load(model.config, model.weights, { threads: 2, loraTargets: DEFAULT_TARGETS });
    const base = initAdapter(model.config, { rank: 2, alpha: 32, targets: DEFAULT_TARGETS, seed: 0 });
    const { examples } = recipeExamples(facts, model.tokenizer, { recipe: { objective: 'distill', topK: 16 } });
    await computeTeacherTargets(examples, lm, 16);
    const session = await TrainingSession.create(model.config, model.weights, { targets: DEFAULT_TARGETS, threads: 2, distill: true });
    const r = await trainAdapter(session, base.modules, examples, { ...budget, scale: 16 });
    await session.release();
    const modules = new Map<string, LoraPair>();
    for (const [k, t] of r.tensors) {
      const shape = base.modules.get(k) as LoraPair;
      modules.set(k, {
        inFeatures: shape.inFeatures,
        outFeatures: shape.outFeatures,
        a: Float32Array.from(t.a),
        b: Float32Array.from(t.b),
      });
    }
    adapter = { config: base.config, modules };
    kl.before = await distillDivergence(lm, null, examples);
    const set = await lm.prepareAdapters(toLoraWeights(adapter));
    kl.after = await distillDivergence(lm, set, examples);
    lm.release(set);
  }, 1_800_000);
  afterAll(() => lm?.dispose());

  async function answers(withAdapter: boolean): Promise<string[]> {
    const set = withAdapter ? await lm.prepareAdapters(toLoraWeights(adapter)) : null;
    const out: string[] = [];
    for (const p of probes) {
      const prompt = model.tokenizer.encodeChat([{ role: 'user', content: closedBookPrompt(p.question) }]);
      const r = await generate(lm, prompt, { maxNewTokens: 16, adapters: set });
      out.push(model.tokenizer.decode(r.tokens, { skipSpecialTokens: true }).toLowerCase());
    }
    if (set) lm.release(set);
    return out;
  }

  it('the student without the passage moves to the teacher with it, and answers the closed-book probes', async () => {
    const base = await answers(false);
    const distilled = await answers(true);
    const hits = (a: string[]) => probes.filter((p, i) => a[i].includes(p.expect)).length;
    console.log(JSON.stringify({ kl, base, distilled, hits: { base: hits(base), distilled: hits(distilled) } }, null, 1));
    expect(kl.after).toBeLessThan(0.5 * kl.before);
    expect(hits(base)).toBe(0);
    expect(hits(distilled)).toBeGreaterThanOrEqual(2);
  }, 600_000);
});
