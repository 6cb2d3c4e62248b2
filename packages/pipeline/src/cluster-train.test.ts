import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { fitClusters } from '@rg/clustering';
import { randomLlamaWeights, TrainingSession, tinyLlamaConfig } from '@rg/engine';
import { type ChatEncoder, DEFAULT_TARGETS, type EncodeOptions, initAdapter, type RecipeRecord, recipeExamples } from '@rg/lora-trainer';
import { afterAll, describe, expect, it } from 'vitest';
import { clusterGroups, encodeClusters } from './cluster-train.js';

const config = tinyLlamaConfig();
// Characters onto the tiny vocabulary; role markers as ids 1 and 2.
const encoder: ChatEncoder = {
  encodeChat(messages, options = {}) {
    const ids = messages.flatMap((m) => [m.role === 'user' ? 1 : 2, ...[...m.content].map((c) => 3 + (c.charCodeAt(0) % 29))]);
    return options.addGenerationPrompt ? [...ids, 2] : ids;
  },
};
const record = (id: string, fact: string): RecipeRecord => ({
  passageId: id,
  passage: `${id} ${fact}.`,
  rewrite: null,
  qa: [
    { question: `What about ${id}?`, answer: fact },
    { question: `Which is ${fact}?`, answer: id },
  ],
});
// Two groups of documents on a line; d5 has no augmented record.
const vectors = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'].map((id, i) => ({ id, vector: [i < 3 ? i : 10 + i] }));
const records = new Map(['d0', 'd1', 'd2', 'd3', 'd4'].map((id) => [id, record(id, `fact of ${id}`)]));
const dir = mkdtempSync(join(tmpdir(), 'rg-cluster-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('clusterGroups', () => {
  it('takes the representatives, or every member, and lists documents without records', async () => {
    const model = await fitClusters(vectors, { k: 2, seed: 0, representatives: 2 });
    const low = model.assignments.get('d0') as number;
    const reps = clusterGroups(model, records, 'representatives');
    expect(reps[low]).toMatchObject({ adapterId: `cluster-k2-${low}`, missing: [] });
    // Nearest the centroid (1) of 0, 1, 2: d1 first, then d0 (ties by id).
    expect(reps[low].records.map((r) => r.passageId)).toEqual(['d1', 'd0']);
    const all = clusterGroups(model, records, 'all');
    expect(all[low].records.map((r) => r.passageId)).toEqual(['d0', 'd1', 'd2']);
    expect(all[1 - low].records.map((r) => r.passageId)).toEqual(['d3', 'd4']);
    expect(all[1 - low].missing).toEqual(['d5']);
  });
});

describe('encodeClusters', () => {
  it('trains one adapter per cluster on all its records, resumes, and reports an empty cluster', async () => {
    const model = await fitClusters(vectors, { k: 2, seed: 0, representatives: 3 });
    const groups = clusterGroups(model, records, 'all');
    const empty = { cluster: 2, adapterId: 'cluster-k2-empty', records: [], missing: ['x'] };
    const store = AdapterStore.open(dir);
    const session = await TrainingSession.create(config, randomLlamaWeights(config, 2), { targets: DEFAULT_TARGETS });
    const base = initAdapter(config, { rank: 2, alpha: 32, targets: DEFAULT_TARGETS, seed: 1 });
    const scope = { model: 'tiny', rank: 2, alpha: 32, dataset: 'toy', lr: 1e-3, epochs: 1 };
    const ctx = { session, encoder, store, base, scope, modelFingerprint: 'tiny-fp' };
    const options: EncodeOptions = { mode: 'lora', lr: 1e-3, epochs: 1, batchSize: 2 };
    try {
      const first = await encodeClusters([...groups, empty], ctx, options);
      expect(first.map((o) => o.status)).toEqual(['trained', 'trained', 'failed']);
      for (const [i, g] of groups.entries()) {
        const expected = g.records.reduce((n, r) => n + recipeExamples(r, encoder).examples.length, 0);
        expect(first[i]).toMatchObject({ id: g.adapterId, examples: expected });
        const entry = store.get({ ...scope, id: g.adapterId });
        expect(entry?.trainingConfig).toMatchObject({ cluster: g.cluster, documents: g.records.map((r) => r.passageId) });
        const trained = store.load({ ...scope, id: g.adapterId });
        expect(trained.modules.get('0.down_proj')?.b.some((v) => v !== 0)).toBe(true);
      }
      expect(first[2].status === 'failed' && first[2].error).toContain('no training examples (0 augmented records');
      const again = await encodeClusters(groups, ctx, options);
      expect(again.map((o) => o.status)).toEqual(['skipped', 'skipped']);
      // A document deleted from the corpus leaves its cluster: that cluster's adapter is trained again without it.
      const shrunk = groups.map((g) => ({ ...g, records: g.records.filter((r) => r.passageId !== 'd0') }));
      const third = await encodeClusters(shrunk, ctx, options);
      const low = groups.findIndex((g) => g.records.some((r) => r.passageId === 'd0'));
      expect(third.map((o) => o.status)).toEqual(low === 0 ? ['trained', 'skipped'] : ['skipped', 'trained']);
      expect(store.get({ ...scope, id: groups[low].adapterId })?.trainingConfig.documents).not.toContain('d0');
    } finally {
      await session.release();
      store.close();
    }
  });
});
