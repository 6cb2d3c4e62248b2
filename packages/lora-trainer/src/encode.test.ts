import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { randomLlamaWeights, TrainingSession, tinyLlamaConfig } from '@rg/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { DAPT_ADAPTER_ID, type EncodeOptions, encodeDapt, encodeDocuments, encodeGroups, RecipeMismatchError } from './encode.js';
import { DEFAULT_TARGETS, initAdapter } from './init.js';
import { type ChatEncoder, recipeExamples } from './recipe.js';

const config = tinyLlamaConfig();
// Characters onto the tiny vocabulary; role markers as ids 1 and 2.
const encoder: ChatEncoder = {
  encodeChat(messages, options = {}) {
    const ids = messages.flatMap((m) => [m.role === 'user' ? 1 : 2, ...[...m.content].map((c) => 3 + (c.charCodeAt(0) % 29))]);
    return options.addGenerationPrompt ? [...ids, 2] : ids;
  },
};
const records = [
  { passageId: 'a/1', passage: 'Ada met Bo.', rewrite: 'Bo met Ada.', qa: [{ question: 'Who met Bo?', answer: 'Ada' }] },
  { passageId: 'empty', passage: 'Nothing.', rewrite: null, qa: [] },
  {
    passageId: 'b',
    passage: 'Cy is 9.',
    rewrite: null,
    qa: [
      { question: 'Age of Cy?', answer: '9' },
      { question: 'Who is 9?', answer: 'Cy' },
    ],
  },
];
const dir = mkdtempSync(join(tmpdir(), 'rg-encode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('encodeDocuments', () => {
  it('stores one adapter per document, logs failures, resumes, retrains a corrupt adapter', async () => {
    const store = AdapterStore.open(dir);
    const session = await TrainingSession.create(config, randomLlamaWeights(config, 2), { targets: DEFAULT_TARGETS });
    const base = initAdapter(config, { rank: 2, alpha: 32, targets: DEFAULT_TARGETS, seed: 1 });
    const scope = { model: 'tiny', rank: 2, alpha: 32, dataset: 'toy', lr: 1e-3, epochs: 2 };
    const ctx = { session, encoder, store, base, scope, modelFingerprint: 'tiny-fp' };
    const options: EncodeOptions = { mode: 'lora', lr: 1e-3, epochs: 2, batchSize: 2 };

    const first = await encodeDocuments(records, ctx, options);
    expect(first.map((o) => o.status)).toEqual(['trained', 'failed', 'trained']);
    expect(first[1].status === 'failed' && first[1].error).toMatch(/no training examples/);
    const stored = store.load({ ...scope, id: 'a/1' });
    // Trained: B moved away from zero, A moved from the init.
    expect(stored.modules.get('1.down_proj')?.b.some((v) => v !== 0)).toBe(true);
    expect(stored.modules.get('0.gate_proj')?.a).not.toEqual(base.modules.get('0.gate_proj')?.a);

    writeFileSync(join(store.pathOf({ ...scope, id: 'b' }), 'adapter_model.safetensors'), 'garbage');
    const second = await encodeDocuments(records, ctx, options);
    expect(second.map((o) => o.status)).toEqual(['skipped', 'failed', 'trained']);

    const grad = await encodeDocuments(
      [records[2]],
      { ...ctx, scope: { ...scope, dataset: 'toy-grad' } },
      { ...options, mode: 'gradient' },
    );
    expect(grad[0].status).toBe('trained');
    expect(store.get({ ...scope, dataset: 'toy-grad', id: 'b' })?.mode).toBe('gradient');
    await session.release();
    store.close();
  });
});

describe('encodeGroups', () => {
  const scope = { model: 'tiny', rank: 2, alpha: 32, dataset: 'groups', lr: 1e-3, epochs: 2 };
  const options: EncodeOptions = { mode: 'lora', lr: 1e-3, epochs: 2, batchSize: 2, seed: 3 };

  it('trains one adapter on all records of a group, reports its steps, and retrains when its documents change', async () => {
    const store = AdapterStore.open(join(dir, 'groups'));
    const session = await TrainingSession.create(config, randomLlamaWeights(config, 2), { targets: DEFAULT_TARGETS });
    const base = initAdapter(config, { rank: 2, alpha: 32, targets: DEFAULT_TARGETS, seed: 1 });
    const ctx = { session, encoder, store, base, scope, modelFingerprint: 'tiny-fp' };
    try {
      const group = { adapterId: 'g', records: [records[0], records[2]], metadata: { cluster: 7 } };
      const expected =
        recipeExamples(records[0], encoder, { seed: 3 }).examples.length + recipeExamples(records[2], encoder, { seed: 3 }).examples.length;
      const starts: Array<{ examples: number; batches: number }> = [];
      const losses: number[] = [];
      const seen: string[] = [];
      const first = await encodeGroups([group], ctx, options, {
        onGroupStart: (_g, info) => starts.push(info),
        onBatch: (b) => losses.push(b.loss),
        onGroup: (o) => seen.push(`${o.id}:${o.status}`),
      });
      expect(first[0]).toMatchObject({ id: 'g', status: 'trained', documents: 2, examples: expected });
      // Two epochs of ceil(examples / 2) micro-batches, each reported.
      expect(starts).toEqual([{ examples: expected, batches: 2 * Math.ceil(expected / 2), resumedBatches: 0 }]);
      expect(losses).toHaveLength(2 * Math.ceil(expected / 2));
      expect(seen).toEqual(['g:trained']);
      const entry = store.get({ ...scope, id: 'g' });
      expect(entry?.trainingConfig).toMatchObject({ cluster: 7, documents: ['a/1', 'b'], examples: expected, seed: 3 });
      expect(entry?.trainingConfig.losses).toEqual(losses);

      expect((await encodeGroups([group], ctx, options))[0].status).toBe('skipped');
      // The same documents in another order are the same group; one document fewer is not.
      expect((await encodeGroups([{ ...group, records: [records[2], records[0]] }], ctx, options))[0].status).toBe('skipped');
      const shrunk = await encodeGroups([{ ...group, records: [records[2]] }], ctx, options);
      expect(shrunk[0]).toMatchObject({ status: 'trained', documents: 1 });
      expect(store.get({ ...scope, id: 'g' })?.trainingConfig.documents).toEqual(['b']);
    } finally {
      await session.release();
      store.close();
    }
  });

  it('an interrupted group goes on from its checkpoint and ends as the uninterrupted run does', async () => {
    const session = await TrainingSession.create(config, randomLlamaWeights(config, 2), { targets: DEFAULT_TARGETS });
    const base = initAdapter(config, { rank: 2, alpha: 32, targets: DEFAULT_TARGETS, seed: 1 });
    const whole = AdapterStore.open(join(dir, 'ckpt-whole'));
    const broken = AdapterStore.open(join(dir, 'ckpt-broken'));
    const checkpoints = { dir: join(dir, 'checkpoints'), everySeconds: 0 };
    const opts: EncodeOptions = { ...options, batchSize: 1, epochs: 3 };
    try {
      const ctx = { session, encoder, store: whole, base, scope, modelFingerprint: 'tiny-fp' };
      expect(await encodeDapt(records, ctx, opts)).toMatchObject({ status: 'trained' });

      let batches = 0;
      const stopped = await encodeDapt(
        records,
        { ...ctx, store: broken },
        opts,
        {
          onBatch: () => {
            if (++batches === 5) throw new Error('interrupted');
          },
        },
        checkpoints,
      );
      expect(stopped).toMatchObject({ status: 'failed', error: 'interrupted' });
      expect(readdirSync(checkpoints.dir)).toHaveLength(1);

      const starts: Array<{ batches: number; resumedBatches: number }> = [];
      const resumed = await encodeDapt(
        records,
        { ...ctx, store: broken },
        opts,
        { onGroupStart: (_g, info) => starts.push(info) },
        checkpoints,
      );
      expect(resumed).toMatchObject({ status: 'trained' });
      // Four micro-batches were done and saved (a step after each); the fifth threw before its step.
      expect(starts[0].resumedBatches).toBe(4);
      const key = { ...scope, id: DAPT_ADAPTER_ID };
      const a = whole.load(key);
      const b = broken.load(key);
      for (const [name, m] of a.modules) {
        expect(b.modules.get(name)?.a).toEqual(m.a);
        expect(b.modules.get(name)?.b).toEqual(m.b);
      }
      expect(broken.get(key)?.trainingConfig.losses).toEqual(whole.get(key)?.trainingConfig.losses);
      expect(readdirSync(checkpoints.dir)).toHaveLength(0);
    } finally {
      await session.release();
      whole.close();
      broken.close();
    }
  });

  it('encodeDapt: one adapter on every record under the reserved id, which no document may take', async () => {
    const store = AdapterStore.open(join(dir, 'dapt'));
    const session = await TrainingSession.create(config, randomLlamaWeights(config, 2), { targets: DEFAULT_TARGETS });
    const base = initAdapter(config, { rank: 2, alpha: 32, targets: DEFAULT_TARGETS, seed: 1 });
    const ctx = { session, encoder, store, base, scope, modelFingerprint: 'tiny-fp' };
    try {
      const dapt = await encodeDapt(records, ctx, options);
      // The record without QA pairs adds no examples but is one of the documents the adapter was trained on.
      expect(dapt).toMatchObject({ id: DAPT_ADAPTER_ID, status: 'trained', documents: 3 });
      const entry = store.get({ ...scope, id: DAPT_ADAPTER_ID });
      expect(entry?.trainingConfig).toMatchObject({ kind: 'dapt', documents: ['a/1', 'empty', 'b'] });
      expect(
        store
          .load({ ...scope, id: DAPT_ADAPTER_ID })
          .modules.get('0.up_proj')
          ?.b.some((v) => v !== 0),
      ).toBe(true);
      expect((await encodeDapt(records, ctx, options)).status).toBe('skipped');

      const clash = { passageId: DAPT_ADAPTER_ID, passage: 'x', rewrite: null, qa: [{ question: 'q?', answer: 'a' }] };
      const refused = await encodeDocuments([clash], ctx, options);
      expect(refused[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('reserved for the DAPT adapter') });
      // The DAPT adapter is untouched.
      expect(store.get({ ...scope, id: DAPT_ADAPTER_ID })?.trainingConfig.kind).toBe('dapt');
    } finally {
      await session.release();
      store.close();
    }
  });
});

describe('recipes', () => {
  const scope = { model: 'tiny', rank: 2, alpha: 32, dataset: 'recipes', lr: 1e-3, epochs: 1 };
  const options: EncodeOptions = { mode: 'lora', lr: 1e-3, epochs: 1, batchSize: 2 };
  // Plain text onto the same vocabulary, for the passage layout.
  const textEncoder: ChatEncoder = { ...encoder, encode: (text) => [...text].map((c) => 3 + (c.charCodeAt(0) % 29)) };

  it('records the recipe with each adapter and refuses, before training anything, to reuse one of another recipe', async () => {
    const store = AdapterStore.open(join(dir, 'recipes'));
    const session = await TrainingSession.create(config, randomLlamaWeights(config, 2), { targets: DEFAULT_TARGETS });
    const base = initAdapter(config, { rank: 2, alpha: 32, targets: DEFAULT_TARGETS, seed: 1 });
    const ctx = { session, encoder: textEncoder, store, base, scope, modelFingerprint: 'tiny-fp' };
    try {
      expect((await encodeDocuments([records[0]], ctx, options))[0].status).toBe('trained');
      expect(store.get({ ...scope, id: 'a/1' })?.trainingConfig.recipe).toEqual({ examples: 'qa', loss: 'answer' });

      const prag = { ...options, recipe: { examples: 'prag' as const, loss: 'all' as const } };
      const attempt = encodeDocuments([records[2], records[0]], ctx, prag);
      await expect(attempt).rejects.toThrow(RecipeMismatchError);
      await expect(attempt).rejects.toThrow(
        /adapter "a\/1" \(model tiny.*dataset recipes.*\) in .* was trained with examples=qa loss=answer, this run asks for examples=prag loss=all/,
      );
      // Refused as a whole: the document not stored yet was not trained with the other recipe either.
      expect(store.get({ ...scope, id: 'b' })).toBeUndefined();
      await expect(encodeGroups([{ adapterId: 'a/1', records: [records[0]] }], ctx, prag)).rejects.toThrow(RecipeMismatchError);
      // The same recipe spelled out is the default one: skipped as before.
      const same = await encodeDocuments([records[0]], ctx, { ...options, recipe: { examples: 'qa', loss: 'answer' } });
      expect(same[0].status).toBe('skipped');

      // An adapter stored before rg recorded the recipe was trained with the default one.
      const old = store.get({ ...scope, id: 'a/1' });
      store.put({ ...scope, id: 'old' }, store.load({ ...scope, id: 'a/1' }), {
        modelFingerprint: 'tiny-fp',
        trainingConfig: { ...old?.trainingConfig, recipe: undefined, documents: ['old'] },
      });
      const renamed = { ...records[0], passageId: 'old' };
      expect((await encodeDocuments([renamed], ctx, options))[0].status).toBe('skipped');
      await expect(encodeDocuments([renamed], ctx, prag)).rejects.toThrow(/was trained with examples=qa loss=answer/);
    } finally {
      await session.release();
      store.close();
    }
  });

  it('passage: trains on the passage text alone, also for a document without QA pairs, with loss on every token', async () => {
    const store = AdapterStore.open(join(dir, 'passage'));
    const session = await TrainingSession.create(config, randomLlamaWeights(config, 2), { targets: DEFAULT_TARGETS });
    const base = initAdapter(config, { rank: 2, alpha: 32, targets: DEFAULT_TARGETS, seed: 1 });
    const ctx = { session, encoder: textEncoder, store, base, scope, modelFingerprint: 'tiny-fp' };
    try {
      const out = await encodeDocuments([records[0], records[1]], ctx, { ...options, recipe: { examples: 'passage' } });
      // Passage and rewrite for the first, the passage alone for the one without a rewrite or QA pairs.
      expect(out).toMatchObject([
        { status: 'trained', examples: 2 },
        { status: 'trained', examples: 1 },
      ]);
      expect(store.get({ ...scope, id: 'empty' })?.trainingConfig).toMatchObject({
        recipe: { examples: 'passage', loss: 'all' },
        examples: 1,
        droppedExamples: 0,
      });
      const long = await encodeDocuments([{ ...records[2], passageId: 'long' }], ctx, {
        ...options,
        maxTokens: 4,
        recipe: { examples: 'passage' },
      });
      // A passage longer than the limit is cut into windows, not left without an adapter.
      expect(long[0]).toMatchObject({ status: 'trained' });
      expect((long[0] as { examples: number }).examples).toBeGreaterThan(1);
      expect(store.get({ ...scope, id: 'long' })?.trainingConfig).toMatchObject({ droppedExamples: 0 });
    } finally {
      await session.release();
      store.close();
    }
  });
});
