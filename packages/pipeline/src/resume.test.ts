import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCollection } from './collection.js';
import { DOCUMENTS, tinyRuntime, until } from './test-helpers/fixtures.js';
import type { Collection, ModelRuntime } from './types.js';

let dir: string;
let runtime: ModelRuntime;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, runtime, cleanup } = await tinyRuntime('resume'));
});
afterAll(async () => {
  await cleanup?.();
});

describe('a job interrupted by close', () => {
  it('stays running mid-encode, and resumes at the next open with exactly one valid adapter', async () => {
    const folder = join(dir, 'slow');
    // Many epochs: the encode step lasts long enough to be interrupted.
    let collection: Collection = await openCollection(folder, runtime, { create: { recipe: { epochs: 400 } } });
    const { jobId, documentId } = collection.addDocument(DOCUMENTS[0]);
    await until(() => collection.job(jobId)?.step === 'encode', 'the encode step');
    await collection.close();

    // Opened without a runner: the job is as the close left it, in its encode step, and has no adapter yet.
    collection = await openCollection(folder, runtime, { runJobs: false });
    expect(collection.job(jobId)).toMatchObject({ state: 'running', step: 'encode' });
    expect(collection.document(documentId)?.hasAdapter).toBe(false);
    await collection.close();

    collection = await openCollection(folder, runtime);
    await collection.whenIdle();
    expect(collection.job(jobId)).toMatchObject({ state: 'done', step: 'encode' });
    expect(collection.document(documentId)?.hasAdapter).toBe(true);
    expect(collection.documentCount()).toBe(1);
    const r = await collection.answer({ question: 'Who keeps the lighthouse?', method: 'cat_all_one', k: 1 });
    expect(r.adapters).toEqual([{ id: documentId, weight: 1 }]);
    await collection.close();

    const store = AdapterStore.open(join(folder, 'adapters'), { create: false });
    try {
      const adapters = store.list({ model: runtime.modelName }).filter((e) => 'id' in e.key);
      expect(adapters.map((e) => ('id' in e.key ? e.key.id : ''))).toEqual([documentId]);
      expect(store.verify(adapters[0].key, { modelFingerprint: runtime.fingerprint }).ok).toBe(true);
    } finally {
      store.close();
    }
    expect(readdirSync(join(folder, 'adapters', '.tmp'))).toEqual([]);
  });
});

describe('collection.json', () => {
  it('is required unless create settings are given', async () => {
    await expect(openCollection(join(dir, 'none'), runtime)).rejects.toThrow(/collection\.json: no collection here/);
  });

  it('names the field that is wrong and what was expected', async () => {
    const folder = join(dir, 'bad');
    const collection = await openCollection(folder, runtime, { create: {}, runJobs: false });
    const settings = collection.settings;
    await collection.close();
    writeFileSync(join(folder, 'collection.json'), JSON.stringify({ ...settings, recipe: { ...settings.recipe, rank: 'two' } }));
    await expect(openCollection(folder, runtime)).rejects.toThrow(/collection\.json: recipe\.rank: .*expected number/);
    writeFileSync(join(folder, 'collection.json'), JSON.stringify({ ...settings, answer: { ...settings.answer, method: 'dapt' } }));
    await expect(openCollection(folder, runtime)).rejects.toThrow(/collection\.json: answer\.method: /);
    writeFileSync(join(folder, 'collection.json'), JSON.stringify({ ...settings, extra: 1 }));
    await expect(openCollection(folder, runtime)).rejects.toThrow(/unknown field\(s\) extra/);
    writeFileSync(join(folder, 'collection.json'), '{"name": ');
    await expect(openCollection(folder, runtime)).rejects.toThrow(/collection\.json: not valid JSON/);
  });

  it('refuses create settings that contradict each other', async () => {
    await expect(
      openCollection(join(dir, 'contradiction'), runtime, { create: { recipe: { examples: 'passage', loss: 'answer' } } }),
    ).rejects.toThrow(/recipe\.loss: the passage layout trains on every token/);
  });
});
