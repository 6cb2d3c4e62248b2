import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { TemplateAugmenter } from '@rg/augment';
import { CorpusStore } from '@rg/corpus';
import { loadModel } from '@rg/engine';
import { DEFAULT_TARGETS, encodeDocuments, openTrainingRun } from '@rg/lora-trainer';
import { commitBuild, openRetriever } from '@rg/retriever';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCollection } from './collection.js';
import { DOCUMENTS, QUESTIONS, tinyRuntime } from './test-helpers/fixtures.js';
import type { ModelRuntime } from './types.js';

let dir: string;
let runtime: ModelRuntime;
let cleanup: () => Promise<void>;
let demo: string;

/**
 * What `rg demo --out DIR` leaves, made with the same packages its steps run: `rg corpus ingest` (corpus/), `rg index
 * build` (corpus/index/bm25.sqlite), `rg augment --generator template --qa 6`, `rg encode --dataset demo` with the
 * demo's shape and rg encode's default recipe (qa layout, loss on the answer); one epoch here instead of five.
 */
async function cliMadeFolder(out: string, modelDir: string): Promise<void> {
  const corpus = CorpusStore.open(join(out, 'corpus'));
  corpus.add(DOCUMENTS);
  const index = await openRetriever('sqlite', { storeDir: join(out, 'corpus'), build: true });
  await index.add([...corpus.iterate()]);
  await index.close();
  commitBuild(join(out, 'corpus'), 'sqlite');
  corpus.close();
  const augmenter = new TemplateAugmenter({ qaCount: 6 });
  const records = await Promise.all(DOCUMENTS.map((d) => augmenter.augment({ id: d.id, text: d.text, title: d.title })));
  const store = AdapterStore.open(join(out, 'adapters'));
  const model = await loadModel(modelDir);
  const run = await openTrainingRun(model, store, {
    rank: 2,
    alpha: 32,
    targets: DEFAULT_TARGETS,
    seed: 0,
    dataset: 'demo',
    lr: 1e-3,
    epochs: 1,
  });
  try {
    const outcomes = await encodeDocuments(records, run.context, { mode: 'lora', lr: 1e-3, epochs: 1, batchSize: 1, maxTokens: 1024 });
    expect(outcomes.map((o) => o.status)).toEqual(['trained', 'trained', 'trained']);
  } finally {
    await run.close();
    store.close();
  }
}

beforeAll(async () => {
  ({ dir, runtime, cleanup } = await tinyRuntime('adopt'));
  demo = join(dir, 'rg-demo');
  await cliMadeFolder(demo, join(dir, 'tiny-llama'));
});
afterAll(async () => {
  await cleanup?.();
});

describe('adopting a folder made by the CLI', () => {
  it('serves its documents and adapters, and trains new documents the way they were trained', async () => {
    const folder = join(dir, 'adopted');
    cpSync(demo, folder, { recursive: true });
    const collection = await openCollection(folder, runtime, { create: { recipe: { epochs: 1 } } });
    try {
      // The store's only dataset of this shape, and its adapters' recipe.
      expect(collection.settings).toMatchObject({
        name: 'adopted',
        adapterDataset: 'demo',
        recipe: { examples: 'qa', loss: 'answer', rank: 2, alpha: 32, lr: 1e-3, epochs: 1 },
      });
      expect(collection.documentCount()).toBe(3);
      expect(collection.document('festival')?.hasAdapter).toBe(true);
      const r = await collection.answer({ question: QUESTIONS.festival, method: 'cat_all_one', k: 1 });
      expect(r).toMatchObject({ documents: [{ id: 'festival' }], adapters: [{ id: 'festival', weight: 1 }], missingAdapters: [] });

      const { jobId } = collection.addDocument({
        id: 'mill',
        text: 'Brannoch Mill grinds barley for the whole valley of Teskar every Tuesday.',
      });
      await collection.whenIdle();
      expect(collection.job(jobId)).toMatchObject({ state: 'done' });
      expect(collection.document('mill')?.hasAdapter).toBe(true);
    } finally {
      await collection.close();
    }
    // Opened again from its collection.json, with nothing given.
    const again = await openCollection(folder, runtime);
    expect(again.settings.adapterDataset).toBe('demo');
    expect(again.documentCount()).toBe(4);
    await again.close();
  });

  it('builds the index of a corpus that has none', async () => {
    const folder = join(dir, 'unindexed');
    cpSync(demo, folder, { recursive: true });
    cpSync(join(demo, 'corpus', 'corpus.sqlite'), join(folder, 'corpus.sqlite'));
    const collection = await openCollection(folder, runtime, {
      create: { corpusDir: '.', adapterDir: 'adapters', recipe: { epochs: 1 } },
      runJobs: false,
    });
    try {
      const r = await collection.answer({ question: QUESTIONS.element, method: 'icl', k: 1 });
      expect(r.documents.map((d) => d.id)).toEqual(['element']);
    } finally {
      await collection.close();
    }
  });

  it('refuses an explicit recipe other than the stored adapters’, naming the field', async () => {
    const folder = join(dir, 'conflict');
    cpSync(demo, folder, { recursive: true });
    await expect(
      openCollection(folder, runtime, { create: { adapterDataset: 'demo', recipe: { epochs: 1, examples: 'passage' } } }),
    ).rejects.toThrow(/recipe\.examples: "passage" but the adapters already in .* under dataset "demo" were trained with examples "qa"/);
  });
});
