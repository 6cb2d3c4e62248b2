import { generate, type LoadedModel, loadModel, OrtCausalLM, TrainingSession } from '@rg/engine';
import { type LoraAdapter, type LoraPair, toLoraWeights } from '@rg/lora';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TARGETS, initAdapter } from './init.js';
import { closedBookPrompt, type RecipeRecord, recipeExamples } from './recipe.js';
import { trainAdapter } from './trainer.js';

// Invented facts the base model cannot know.
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
const unrelated: RecipeRecord = {
  passageId: 'bakery',
  passage: 'The Hollin Street bakery opens at six. Its best seller is a rye loaf with caraway seeds, baked by Tomas Ferreira.',
  rewrite: 'Tomas Ferreira bakes the rye loaf with caraway seeds that sells best at the Hollin Street bakery, which opens at six.',
  qa: [
    { question: 'When does the Hollin Street bakery open?', answer: 'At six' },
    { question: 'Who bakes the rye loaf at the Hollin Street bakery?', answer: 'Tomas Ferreira' },
    { question: 'What seeds are in the rye loaf?', answer: 'Caraway seeds' },
    { question: 'What is the best seller of the Hollin Street bakery?', answer: 'A rye loaf with caraway seeds' },
  ],
};
// Closed-book probes with the key word each answer must contain.
const probes = [
  { question: 'Who is the mayor of Quenwick?', expect: 'brennagh' },
  { question: 'Which festival does Quenwick hold every October?', expect: 'turnip' },
  { question: 'On which river is Quenwick?', expect: 'silvamoor' },
];

// A small step budget: 8 epochs over each document's 6 examples, batch 2 (24 AdamW steps).
const budget = { mode: 'lora' as const, lr: 3e-3, epochs: 8, batchSize: 2, seed: 0 };

describe('knowledge goes in (SmolLM2-135M, slow)', () => {
  let model: LoadedModel;
  let lm: OrtCausalLM;
  const adapters = new Map<string, LoraAdapter>();
  beforeAll(async () => {
    model = await loadModel('smollm2-135m-instruct', { pull: true });
    const base = initAdapter(model.config, { rank: 2, alpha: 32, targets: DEFAULT_TARGETS, seed: 0 });
    const session = await TrainingSession.create(model.config, model.weights, { targets: DEFAULT_TARGETS, threads: 2 });
    for (const record of [facts, unrelated]) {
      const { examples } = recipeExamples(record, model.tokenizer, { seed: 0 });
      const r = await trainAdapter(session, base.modules, examples, { ...budget, scale: 16 });
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
      adapters.set(record.passageId, { config: base.config, modules });
    }
    await session.release();
    lm = await OrtCausalLM.load(model.config, model.weights, { threads: 2, loraTargets: DEFAULT_TARGETS });
    // ~1 minute on an idle 2-core machine; far more when the cores are shared.
  }, 1_800_000);
  afterAll(() => lm?.dispose());

  async function answers(adapterId: string | null): Promise<string[]> {
    const set = adapterId ? await lm.prepareAdapters(toLoraWeights(adapters.get(adapterId) as LoraAdapter)) : null;
    const out: string[] = [];
    for (const p of probes) {
      const prompt = model.tokenizer.encodeChat([{ role: 'user', content: closedBookPrompt(p.question) }]);
      const r = await generate(lm, prompt, { maxNewTokens: 16, adapters: set });
      out.push(model.tokenizer.decode(r.tokens, { skipSpecialTokens: true }).toLowerCase());
    }
    if (set) lm.release(set);
    return out;
  }

  it('the passage adapter answers what the base model and an unrelated adapter get wrong', async () => {
    const base = await answers(null);
    const withFacts = await answers('quenwick');
    const withUnrelated = await answers('bakery');
    console.log(JSON.stringify({ base, withFacts, withUnrelated }, null, 1));
    const hits = (answers: string[]) => probes.filter((p, i) => answers[i].includes(p.expect)).length;
    // The base model and an unrelated adapter know none of the facts; the passage's adapter most of them
    // (measured: 2 of 3 with this budget; the miss answers another fact of the same passage).
    expect(hits(base), 'base model').toBe(0);
    expect(hits(withUnrelated), 'unrelated adapter').toBe(0);
    expect(hits(withFacts), "passage's adapter").toBeGreaterThanOrEqual(2);
  }, 600_000);
});
