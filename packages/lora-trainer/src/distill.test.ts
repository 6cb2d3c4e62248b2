import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { type LoadedModel, loadModel, TrainingSession } from '@rg/engine';
import { writeTinyModel } from '@rg/engine/testing';
import { toLoraWeights } from '@rg/lora';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeTeacherTargets, distillDivergence, isDistillExample } from './distill.js';
import { type EncodeOptions, encodeDocuments, RecipeMismatchError } from './encode.js';
import { DEFAULT_TARGETS } from './init.js';
import { type Recipe, type RecipeRecord, recipeExamples } from './recipe.js';
import { trainAdapter } from './trainer.js';
import { openTrainingRun, type TrainingRun } from './training-run.js';

const record: RecipeRecord = {
  passageId: 'quenwick',
  passage: 'Quenwick is a town on the Silvamoor river. Its mayor is Orla Brennagh.',
  rewrite: 'Orla Brennagh is the mayor of Quenwick, a town by the Silvamoor river.',
  qa: [
    { question: 'Who is the mayor of Quenwick?', answer: 'Orla Brennagh' },
    { question: 'On which river is Quenwick?', answer: 'The Silvamoor river' },
  ],
};
const distill: Partial<Recipe> = { objective: 'distill', topK: 16 };
const options: EncodeOptions = { mode: 'lora', lr: 3e-3, epochs: 12, batchSize: 2, seed: 0, recipe: distill };
const scope = (dataset: string) => ({ dataset, lr: options.lr, epochs: options.epochs });

describe('context distillation on the tiny model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rg-distill-'));
  let model: LoadedModel;
  let store: AdapterStore;
  let run: TrainingRun;
  beforeAll(async () => {
    model = await loadModel(writeTinyModel(join(dir, 'tiny')));
    store = AdapterStore.open(join(dir, 'adapters'));
    run = await openTrainingRun(model, store, { rank: 2, alpha: 32, targets: DEFAULT_TARGETS, seed: 0, distill: true, ...scope('toy') });
  });
  afterAll(async () => {
    await run?.close();
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lowers KL(teacher with the passage ‖ student without it) on its records, and records the objective', async () => {
    const losses: Array<{ loss: number }> = [];
    const [outcome] = await encodeDocuments([record], run.context, options, { onBatch: (b) => losses.push(b) });
    expect(outcome.status).toBe('trained');
    // 2 questions + the passage and rewrite prompts, 2 per batch, 12 epochs.
    expect(losses.length).toBe(24);
    const key = { ...run.context.scope, id: record.passageId };
    const entry = store.get(key);
    expect(entry?.trainingConfig.recipe).toEqual({ examples: 'qa', loss: 'answer', objective: 'distill', topK: 16, distillWeight: 1 });

    // The student (no passage) before and after, against the teacher's targets (which training computed the same way).
    const { examples } = recipeExamples(record, model.tokenizer, { recipe: distill });
    expect(examples.length).toBe(4);
    expect(examples.every(isDistillExample)).toBe(true);
    expect(await computeTeacherTargets(examples, run.context.teacher, 16)).toBe(4);
    const teacher = run.context.teacher;
    if (!teacher) throw new Error('openTrainingRun with distill gives a teacher');
    const before = await distillDivergence(teacher, null, examples);
    const adapters = await teacher.prepareAdapters(toLoraWeights(store.load(key)));
    const after = await distillDivergence(teacher, adapters, examples);
    teacher.release(adapters);
    const firstEpoch = (losses[0].loss + losses[1].loss) / 2;
    const lastEpoch = (losses[22].loss + losses[23].loss) / 2;
    console.log(JSON.stringify({ klBefore: before, klAfter: after, firstEpoch, lastEpoch }));
    // The base_weight starts with B = 0, so the first batches see the base model: KL(before) is where training starts.
    expect(before).toBeGreaterThan(0.05);
    expect(after).toBeLessThan(0.5 * before);
    expect(lastEpoch).toBeLessThan(0.5 * firstEpoch);
  });

  it('a run with another objective, or another topK, over those adapters is refused; the same recipe skips them', async () => {
    await expect(encodeDocuments([record], run.context, { ...options, recipe: {} })).rejects.toThrow(RecipeMismatchError);
    await expect(encodeDocuments([record], run.context, { ...options, recipe: {} })).rejects.toThrow(
      /trained with objective=distill topK=16, this run asks for examples=qa loss=answer/,
    );
    await expect(encodeDocuments([record], run.context, { ...options, recipe: { ...distill, topK: 8 } })).rejects.toThrow(/topK=8/);
    const [again] = await encodeDocuments([record], run.context, options);
    expect(again.status).toBe('skipped');
  });

  it('both: trains on the layout examples and the distillation examples, CE + λ·KL', async () => {
    const both: Partial<Recipe> = { objective: 'both', distillWeight: 0.5, topK: 8 };
    const { examples } = recipeExamples(record, model.tokenizer, { recipe: both });
    // qa layout: 1 question with the passage and with the rewrite, 1 closed-book; then the 4 distillation examples.
    expect(examples.filter(isDistillExample).length).toBe(4);
    expect(examples.length).toBe(7);
    const ctx = { ...run.context, scope: { ...run.context.scope, dataset: 'toy-both' } };
    const [outcome] = await encodeDocuments([record], ctx, { ...options, epochs: 2, recipe: both });
    expect(outcome.status === 'trained' && Number.isFinite(outcome.finalLoss)).toBe(true);
    expect(store.get({ ...ctx.scope, id: record.passageId })?.trainingConfig.recipe).toEqual({
      examples: 'qa',
      loss: 'answer',
      objective: 'both',
      topK: 8,
      distillWeight: 0.5,
    });
  });

  it('refuses distillation examples on a session without soft targets, and options that make no sense, naming them', async () => {
    const { examples } = recipeExamples(record, model.tokenizer, { recipe: distill });
    await computeTeacherTargets(examples, run.context.teacher, 16);
    const plain = await TrainingSession.create(model.config, model.weights, { targets: DEFAULT_TARGETS });
    await expect(
      trainAdapter(plain, run.context.base.modules, examples, { mode: 'lora', scale: 16, lr: 1e-3, epochs: 1, batchSize: 1 }),
    ).rejects.toThrow(/created with distill/);
    await plain.release();
    await expect(
      computeTeacherTargets(recipeExamples(record, model.tokenizer, { recipe: distill }).examples, undefined, 16),
    ).rejects.toThrow(/no teacher model/);
    expect(() => recipeExamples(record, model.tokenizer, { recipe: { objective: 'distill', topK: 0 } })).toThrow(/recipe\.topK/);
    expect(() => recipeExamples(record, model.tokenizer, { recipe: { objective: 'both', distillWeight: -1 } })).toThrow(
      /recipe\.distillWeight/,
    );
    expect(() => recipeExamples(record, model.tokenizer, { recipe: { objective: 'kl' as 'distill' } })).toThrow(/recipe\.objective/);
  });
});
