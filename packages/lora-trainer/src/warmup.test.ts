import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore, type DocAdapterKey } from '@rg/adapter-store';
import { type LoadedModel, loadModel, randomLora, referenceForward } from '@rg/engine';
import { writeTinyModel } from '@rg/engine/testing';
import { type LoraWeights, toLoraWeights } from '@rg/lora';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collate, type TrainingExample } from './batching.js';
import { encodeDocuments, RecipeMismatchError, reservedAdapterId } from './encode.js';
import { DEFAULT_TARGETS } from './init.js';
import { chatExample } from './recipe.js';
import { trainAdapter } from './trainer.js';
import { openTrainingRun } from './training-run.js';
import {
  checkWarmupOfAdapters,
  findWarmup,
  loadWarmup,
  mergeIntoWeights,
  stackWarmup,
  trainWarmup,
  WARMUP_ADAPTER_ID,
  WarmupMismatchError,
  type WarmupPair,
} from './warmup.js';

const dir = mkdtempSync(join(tmpdir(), 'rg-warmup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let model: LoadedModel;
beforeAll(async () => {
  model = await loadModel(writeTinyModel(join(dir, 'tiny-llama')));
});

// The warm-up's own store key: lr and epochs of its own, not the documents'.
const warmupRun = { rank: 2, alpha: 32, targets: DEFAULT_TARGETS, seed: 0, dataset: 'toy', lr: 2e-2, epochs: 4 };
const pairs: WarmupPair[] = ['Is it red?', 'Is it blue?', 'Is it big?', 'Is it old?', 'Is it new?', 'Is it hot?'].map((q, i) => ({
  id: `q${i}`,
  prompt: `Answer with yes or no.\n\nQuestion: ${q}`,
  answer: i % 2 === 0 ? 'yes' : 'no',
}));

/** Mean loss of the examples at an adapter (one gradient-mode pass: no update). */
async function meanLoss(
  session: Parameters<typeof trainAdapter>[0],
  tensors: Parameters<typeof trainAdapter>[1],
  examples: TrainingExample[],
): Promise<number> {
  const r = await trainAdapter(session, tensors, examples, { mode: 'gradient', scale: 16, lr: 0, epochs: 1, batchSize: 1 });
  return r.losses.reduce((s, l) => s + l, 0) / r.losses.length;
}

/** The training graph's loss (mean over the shifted labels) computed from the reference forward's logits. */
function referenceLoss(example: TrainingExample, lora: LoraWeights[]): number {
  const rows = referenceForward(model.config, model.weights, example.inputIds, lora);
  let sum = 0;
  let n = 0;
  for (let t = 0; t + 1 < example.inputIds.length; t++) {
    const label = example.labels[t + 1];
    if (label === -100) continue;
    const row = rows[t];
    const max = Math.max(...row);
    const logZ = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    sum += logZ - row[label];
    n++;
  }
  return sum / n;
}

const maxDiff = (a: Float64Array[], b: Float64Array[]) =>
  Math.max(...a.map((row, i) => Math.max(...row.map((v, j) => Math.abs(v - b[i][j])))));

describe('trainWarmup', () => {
  it('lowers the loss on its pairs and stores the adapter under _warmup with kind warmup, its split and question ids', async () => {
    const store = AdapterStore.open(join(dir, 'adapters-train'));
    const run = await openTrainingRun(model, store, warmupRun);
    try {
      const examples = pairs.map((p) => chatExample(model.tokenizer, p.prompt, p.answer, p.id, 'answer'));
      const before = await meanLoss(run.context.session, run.context.base.modules, examples);
      const outcome = await trainWarmup(pairs, run.context, { source: { dataset: 'toy', split: 'dev' }, seed: 1 });
      expect(outcome.key).toEqual({ model: 'tiny-llama', rank: 2, alpha: 32, dataset: 'toy', lr: 2e-2, epochs: 4, id: WARMUP_ADAPTER_ID });
      expect(outcome.losses).toHaveLength(pairs.length * 4);
      const stored = store.load(outcome.key);
      const after = await meanLoss(run.context.session, stored.modules, examples);
      expect(after).toBeLessThan(before * 0.5);

      const entry = store.get(outcome.key);
      expect(entry?.trainingConfig).toMatchObject({
        kind: 'warmup',
        dataset: 'toy',
        split: 'dev',
        questionIds: ['q0', 'q1', 'q2', 'q3', 'q4', 'q5'],
        lr: 2e-2,
        epochs: 4,
        loss: 'answer',
      });
      expect(findWarmup(store, { model: 'tiny-llama', dataset: 'toy' }).contentHash).toBe(entry?.contentHash);
      expect(() => findWarmup(store, { model: 'tiny-llama', dataset: 'other' })).toThrow(
        'no warm-up adapter (id _warmup) in ' + store.root + ' for model tiny-llama, dataset other',
      );
    } finally {
      await run.close();
      store.close();
    }
  }, 120_000);

  it('refuses test questions, repeated questions, and a document taking its id', async () => {
    const store = AdapterStore.open(join(dir, 'adapters-refuse'));
    const run = await openTrainingRun(model, store, warmupRun);
    try {
      for (const split of ['test', 'all'])
        await expect(trainWarmup(pairs, run.context, { source: { dataset: 'toy', split } })).rejects.toThrow(
          `source.split "${split}" holds test questions`,
        );
      await expect(trainWarmup([pairs[0], pairs[0]], run.context, { source: { dataset: 'toy', split: 'dev' } })).rejects.toThrow(
        'question id "q0" appears twice',
      );
      expect(reservedAdapterId(WARMUP_ADAPTER_ID)).toMatch(/warm-up/);
      const record = { passageId: WARMUP_ADAPTER_ID, passage: 'x', rewrite: null, qa: [{ question: 'q?', answer: 'a' }] };
      const [outcome] = await encodeDocuments([record], run.context, { mode: 'lora', lr: 2e-2, epochs: 1, batchSize: 1 });
      expect(outcome.status === 'failed' && outcome.error).toMatch(/reserved for the warm-up adapter/);
      expect(store.list()).toHaveLength(1); // the base_weight only
    } finally {
      await run.close();
      store.close();
    }
  }, 60_000);
});

describe('stacking the warm-up', () => {
  const ids = [5, 40, 77, 3, 120, 9, 61];

  it('stackWarmup changes the logits exactly as adding the two deltas does', () => {
    const doc = randomLora(model.config, 2, DEFAULT_TARGETS, 3, 0.3);
    const warm = randomLora(model.config, 2, DEFAULT_TARGETS, 4, 0.3);
    const separate = referenceForward(model.config, model.weights, ids, [doc, warm]);
    const stacked = stackWarmup(doc, warm);
    expect(stacked.rank).toBe(4);
    expect(maxDiff(referenceForward(model.config, model.weights, ids, stacked), separate)).toBeLessThan(1e-9);
    // And the warm-up does change them (the comparison is not vacuous).
    expect(maxDiff(referenceForward(model.config, model.weights, ids, doc), separate)).toBeGreaterThan(1e-3);
    // No request adapters (wo_param, icl): the warm-up alone.
    expect(stackWarmup(null, warm)).toBe(warm);
    // A warm-up on fewer modules than the documents: zero rows where it has none, every module of one rank.
    const downOnly = randomLora(model.config, 1, ['down_proj'], 5, 0.3);
    const mixed = stackWarmup(doc, downOnly);
    expect([...mixed.modules.values()].every((m) => m.rank === 3)).toBe(true);
    expect(
      maxDiff(
        referenceForward(model.config, model.weights, ids, mixed),
        referenceForward(model.config, model.weights, ids, [doc, downOnly]),
      ),
    ).toBeLessThan(1e-9);
  });

  it('mergeIntoWeights puts the warm-up delta into the base weights: same logits as applying it as an adapter', () => {
    const doc = randomLora(model.config, 2, DEFAULT_TARGETS, 3, 0.3);
    const warm = randomLora(model.config, 2, DEFAULT_TARGETS, 4, 0.3);
    const merged = mergeIntoWeights(model.weights, warm);
    expect(
      maxDiff(referenceForward(model.config, merged, ids, doc), referenceForward(model.config, model.weights, ids, [doc, warm])),
    ).toBeLessThan(1e-5);
    // Untouched tensors are shared, touched ones copied: the model's own weights stay as they were.
    expect(merged.get('model.embed_tokens.weight')).toBe(model.weights.get('model.embed_tokens.weight'));
    expect(merged.get('model.layers.0.mlp.up_proj.weight')).not.toBe(model.weights.get('model.layers.0.mlp.up_proj.weight'));
  });

  it('trains a document adapter on top of the frozen warm-up: the forward sees both, the warm-up is unchanged, its sha256 is recorded', async () => {
    const store = AdapterStore.open(join(dir, 'adapters-stack'));
    const warmupTraining = await openTrainingRun(model, store, warmupRun);
    const { key } = await trainWarmup(pairs, warmupTraining.context, { source: { dataset: 'toy', split: 'dev' } }).finally(() =>
      warmupTraining.close(),
    );
    const entryBefore = store.get(key);
    const warmupBefore = store.load(key);
    const warmup = loadWarmup(store, findWarmup(store, { model: 'tiny-llama', dataset: 'toy' }));
    expect(warmup.identity).toEqual({ key, sha256: entryBefore?.contentHash });
    expect(warmup.trainedOn).toEqual({ dataset: 'toy', split: 'dev', questionIds: pairs.map((p) => p.id) });

    const docsRun = { ...warmupRun, lr: 1e-2, epochs: 2 };
    const run = await openTrainingRun(model, store, { ...docsRun, warmup });
    try {
      expect(run.context.warmup).toEqual(warmup.identity);
      const record = { passageId: 'ada', passage: 'Ada met Bo.', rewrite: null, qa: [{ question: 'Who met Bo?', answer: 'Ada' }] };
      const example = chatExample(model.tokenizer, 'Question: Who met Bo?', 'Ada', 'ada');
      // The session's loss at the base_weight (B = 0: no delta of its own) is the base model's plus the warm-up's delta.
      const step = await run.context.session.step(collate([example]), run.context.base.modules, 16);
      expect(step.loss).toBeCloseTo(referenceLoss(example, [warmup.weights]), 4);
      expect(Math.abs(step.loss - referenceLoss(example, []))).toBeGreaterThan(1e-3);

      const [outcome] = await encodeDocuments([record], run.context, { mode: 'lora', lr: 1e-2, epochs: 2, batchSize: 1 });
      expect(outcome.status).toBe('trained');
      const docKey: DocAdapterKey = { ...run.context.scope, id: 'ada' };
      const doc = store.get(docKey);
      expect(doc?.trainingConfig.warmup).toEqual(warmup.identity);
      // The warm-up got no update: same files, same tensors.
      expect(store.get(key)?.contentHash).toBe(entryBefore?.contentHash);
      const warmupAfter = store.load(key);
      for (const [k, p] of warmupBefore.modules) {
        expect(warmupAfter.modules.get(k)?.a).toEqual(p.a);
        expect(warmupAfter.modules.get(k)?.b).toEqual(p.b);
      }
      // The document adapter did train: applied over the warm-up it lowers its example's loss.
      const docWeights = toLoraWeights(store.load(docKey));
      expect(referenceLoss(example, [docWeights, warmup.weights])).toBeLessThan(referenceLoss(example, [warmup.weights]));

      // Applying it: over the same warm-up, fine; over none or another, refused naming both.
      expect(checkWarmupOfAdapters([doc!], warmup.identity)).toEqual({ withoutWarmup: 0 });
      expect(() => checkWarmupOfAdapters([doc!], null)).toThrow(WarmupMismatchError);
      expect(() => checkWarmupOfAdapters([doc!], null)).toThrow('was trained on top of the warm-up');
      const other = { ...warmup.identity, sha256: 'f'.repeat(64) };
      expect(() => checkWarmupOfAdapters([doc!], other)).toThrow(
        `has sha256 ${'f'.repeat(64)}: encode the documents again on top of this warm-up`,
      );
    } finally {
      await run.close();
    }
    // Encoding the same document again without the warm-up would skip it as "already stored": refused instead.
    const plain = await openTrainingRun(model, store, docsRun);
    try {
      const record = { passageId: 'ada', passage: 'Ada met Bo.', rewrite: null, qa: [{ question: 'Who met Bo?', answer: 'Ada' }] };
      const attempt = encodeDocuments([record], plain.context, { mode: 'lora', lr: 1e-2, epochs: 2, batchSize: 1 });
      await expect(attempt).rejects.toThrow(WarmupMismatchError);
      await expect(attempt).rejects.not.toThrow(RecipeMismatchError);
    } finally {
      await plain.close();
      store.close();
    }
  }, 120_000);
});
