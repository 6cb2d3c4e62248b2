import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { AugmentDataError, type AugmentedRecord, TemplateAugmenter } from '@rg/augment';
import { CorpusStore } from '@rg/corpus';
import { writeTinyModel } from '@rg/engine/testing';
import { openRetriever, readIndexStamp } from '@rg/retriever';
import { afterAll, describe, expect, it } from 'vitest';
import { augmentCorpus, corpusPassages } from './augment-corpus.js';
import { buildIndex, ForeignFieldsError, fieldsFromAugmented } from './build-index.js';
import { encodeAugmentedFile, trainableRecords } from './encode-file.js';
import { filterCorpus } from './filter-corpus.js';
import { StepInputError } from './reported.js';
import { DOCUMENTS, QUESTIONS } from './test-helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'rg-pipeline-batch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function corpusWithDocuments(name: string): CorpusStore {
  const store = CorpusStore.open(join(dir, name), { create: true });
  store.add(DOCUMENTS);
  return store;
}

describe('buildIndex', () => {
  it('indexes every document in batches, with the tags given, stamps the generation and swaps the index in', async () => {
    const store = corpusWithDocuments('index');
    const progress: Array<[number, number]> = [];
    const fields = new Map([['festival', { tags: ['zanforth'], description: 'a river fair', tagsFrom: 'template' as const }]]);
    const s = await buildIndex(store.dir, store, 'sqlite', { batch: 2, fields, onProgress: (d, t) => progress.push([d, t]) });
    expect(s).toMatchObject({ backend: 'sqlite', documents: 3, withTags: 1, tagsFromTemplate: 1 });
    expect(progress).toEqual([
      [2, 3],
      [3, 3],
    ]);
    expect(readIndexStamp(store.dir, 'sqlite')).toMatchObject({ generation: store.generation(), documents: 3 });
    expect(readdirSync(join(store.dir, 'index')).filter((f) => f.includes('building'))).toEqual([]);
    const retriever = await openRetriever('sqlite', { storeDir: store.dir });
    // "zanforth" is only in the tags: found through them, while the store's text stays as it was.
    expect((await retriever.search('zanforth', { k: 1 })).map((h) => h.id)).toEqual(['festival']);
    expect((await retriever.search('lighthouse keeper', { k: 1 })).map((h) => h.id)).toEqual(['lighthouse']);
    await retriever.close();
    expect(store.get('festival')?.text).not.toContain('zanforth');
    store.close();
  });

  it('leaves the current index as it was when a build is refused', async () => {
    const store = corpusWithDocuments('refused');
    await buildIndex(store.dir, store, 'sqlite');
    const before = readIndexStamp(store.dir, 'sqlite');
    // Field weights are refused by the embedding backends (title and text only) before anything is read.
    await expect(buildIndex(store.dir, store, 'dense', { fieldWeights: { tags: 2 } })).rejects.toThrow(
      /--field-weights applies to --backend sqlite, hybrid, elasticsearch only/,
    );
    expect(readIndexStamp(store.dir, 'sqlite')).toEqual(before);
    expect(readdirSync(join(store.dir, 'index')).filter((f) => f.includes('building'))).toEqual([]);
    store.close();
  });
});

describe('augmentCorpus', () => {
  it('augments every document of the store once: a second run skips them all', async () => {
    const store = corpusWithDocuments('augment');
    const output = join(dir, 'augmented.jsonl');
    const started: Array<{ passages: number; skipped: number }> = [];
    const run = () =>
      augmentCorpus(store, { augmenter: new TemplateAugmenter({ qaCount: 2 }), outputPath: output, onStart: (i) => started.push(i) });
    expect(await run()).toMatchObject({ processed: 3, ok: 3, skipped: 0 });
    expect(await run()).toMatchObject({ processed: 0, skipped: 3 });
    expect(started).toEqual([
      { passages: 3, skipped: 0 },
      { passages: 3, skipped: 3 },
    ]);
    const ids = readFileSync(output, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).passageId);
    expect(ids.sort()).toEqual(['element', 'festival', 'lighthouse']);
    expect(corpusPassages(store, 2)).toHaveLength(2);
    store.close();
  });

  it('refuses an empty store, naming it', async () => {
    const store = CorpusStore.open(join(dir, 'empty'), { create: true });
    await expect(
      augmentCorpus(store, { augmenter: new TemplateAugmenter({ qaCount: 1 }), outputPath: join(dir, 'none.jsonl') }),
    ).rejects.toThrow(`${store.dir}: no documents to augment`);
    store.close();
  });
});

describe('encodeAugmentedFile', () => {
  it('stores one adapter per record under the dataset and recipe; a second run skips them', async () => {
    const store = corpusWithDocuments('encode');
    const input = join(dir, 'encode.jsonl');
    await augmentCorpus(store, { augmenter: new TemplateAugmenter({ qaCount: 2 }), outputPath: input });
    store.close();
    const model = writeTinyModel(join(dir, 'tiny-llama'));
    const options = {
      model,
      home: join(dir, 'home'),
      threads: 1,
      input,
      store: join(dir, 'adapters'),
      rank: 2,
      alpha: 4,
      training: { mode: 'lora' as const, lr: 1e-3, epochs: 1, batchSize: 1, recipe: { examples: 'passage' as const } },
    };
    const notes: string[] = [];
    const done: string[] = [];
    const first = await encodeAugmentedFile(options, {
      onNote: (t) => notes.push(t),
      onDocument: (o, p) => done.push(`${p.done}/${p.total} ${o.status}`),
    });
    expect(first).toMatchObject({ passages: 3, trained: 3, skipped: 0, failed: 0, recipe: { examples: 'passage', loss: 'all' } });
    // The dataset segment defaults to the input file's name.
    expect(first.scope).toMatchObject({ rank: 2, alpha: 4, dataset: 'encode', lr: 1e-3, epochs: 1 });
    expect(done).toEqual(['1/3 trained', '2/3 trained', '3/3 trained']);
    expect(notes.some((n) => n.startsWith('no base_weight'))).toBe(true);
    const second = await encodeAugmentedFile(options);
    expect(second).toMatchObject({ trained: 0, skipped: 3 });
    const adapters = AdapterStore.open(options.store);
    expect(
      adapters
        .list({ dataset: 'encode' })
        .flatMap((e) => ('id' in e.key ? [e.key.id] : []))
        .sort(),
    ).toEqual(['element', 'festival', 'lighthouse']);
    adapters.close();
  }, 120_000);

  it('names a missing input file', async () => {
    const missing = join(dir, 'missing.jsonl');
    await expect(
      encodeAugmentedFile({
        model: 'x',
        home: dir,
        threads: 1,
        input: missing,
        store: join(dir, 'a'),
        rank: 2,
        alpha: 4,
        training: { mode: 'lora', lr: 1, epochs: 1, batchSize: 1 },
      }),
    ).rejects.toThrow(`${missing}: no such file`);
    expect(existsSync(join(dir, 'a'))).toBe(false);
  });
});

describe('trainableRecords', () => {
  const record = (id: string, status: 'ok' | 'failed', qa: number): AugmentedRecord =>
    ({
      passageId: id,
      status,
      failureReason: status === 'failed' ? 'no rewrite' : undefined,
      rewrite: null,
      qa: Array.from({ length: qa }, () => ({ question: 'q', answer: 'a' })),
    }) as unknown as AugmentedRecord;

  it('keeps records with QA pairs (any record for the passage layout) and says which are partial or skipped', () => {
    const records = [record('a', 'ok', 1), record('b', 'failed', 1), record('c', 'failed', 0)];
    const notes: string[] = [];
    expect(trainableRecords(records, (t) => notes.push(t), 'qa').map((r) => r.passageId)).toEqual(['a', 'b']);
    expect(notes).toEqual([
      'partial b: augmentation failed (no rewrite); training on its 1 QA pair(s) without a rewrite',
      'skip c: no question/answer pair to train on (augmentation: no rewrite)',
    ]);
    expect(trainableRecords(records, () => {}, 'passage')).toHaveLength(3);
  });
});

describe('filterCorpus', () => {
  it('copies the documents retrieved for each question into another store; a bad question line names file and line', async () => {
    const source = corpusWithDocuments('filter-source');
    await buildIndex(source.dir, source, 'sqlite');
    const out = CorpusStore.open(join(dir, 'filter-out'), { create: true });
    const questionsFile = join(dir, 'questions.jsonl');
    const asked = ['element', 'festival'];
    writeFileSync(questionsFile, asked.map((id) => JSON.stringify({ id, question: QUESTIONS[id] })).join('\n'));
    const retriever = await openRetriever('sqlite', { storeDir: source.dir });
    try {
      const s = await filterCorpus(source, out, retriever, { questionsFile, perQuestion: 1 });
      expect(s).toEqual({ questions: 2, kept: 2, added: 2, documents: 2 });
      expect([...out.iterate()].map((d) => d.id).sort()).toEqual(asked);
      // Run again: the same documents, nothing added twice.
      expect(await filterCorpus(source, out, retriever, { questionsFile, perQuestion: 1 })).toMatchObject({ added: 0, documents: 2 });
      writeFileSync(questionsFile, `${JSON.stringify({ id: 'q', question: QUESTIONS.festival })}\n{"id": "broken"\n`);
      const bad = filterCorpus(source, out, retriever, { questionsFile, perQuestion: 1 });
      await expect(bad).rejects.toThrow(StepInputError);
      await expect(filterCorpus(source, out, retriever, { questionsFile, perQuestion: 1 })).rejects.toThrow(`${questionsFile}:2:`);
      // The source as its own output (another path to the same folder included) is refused, before any question.
      const again = CorpusStore.open(`${source.dir}/.`);
      try {
        await expect(filterCorpus(source, again, retriever, { questionsFile, perQuestion: 1 })).rejects.toThrow(/is the source store/);
      } finally {
        again.close();
      }
    } finally {
      await retriever.close();
      source.close();
      out.close();
    }
  });
});

describe('fieldsFromAugmented', () => {
  it('refuses a missing file and one augmented from another corpus, naming the file', async () => {
    const store = corpusWithDocuments('fields');
    try {
      const missing = join(dir, 'none.jsonl');
      await expect(fieldsFromAugmented(missing, store)).rejects.toThrow(AugmentDataError);
      await expect(fieldsFromAugmented(missing, store)).rejects.toThrow(`${missing}: not found`);
      const other = join(dir, 'other.jsonl');
      await augmentCorpus(corpusWithDocuments('fields-other'), { augmenter: new TemplateAugmenter({ qaCount: 1 }), outputPath: other });
      const foreign = CorpusStore.open(join(dir, 'fields-empty'), { create: true });
      foreign.add([{ id: 'unrelated', text: 'Nothing in common with the augmented file.' }]);
      await expect(fieldsFromAugmented(other, foreign)).rejects.toThrow(ForeignFieldsError);
      foreign.close();
      expect((await fieldsFromAugmented(other, store)).fields.size).toBe(DOCUMENTS.length);
    } finally {
      store.close();
    }
  });
});
