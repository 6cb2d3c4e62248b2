import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { randomLlamaWeights, TrainingSession, tinyLlamaConfig } from '@rg/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { DAPT_ADAPTER_ID, type EncodeOptions, encodeDocuments } from './encode.js';
import { encodeDocumentsMany } from './encode-many.js';
import { DEFAULT_TARGETS, initAdapter } from './init.js';
import type { ChatEncoder } from './recipe.js';

const config = tinyLlamaConfig();
const weights = randomLlamaWeights(config, 2);
// Characters onto the tiny vocabulary; role markers as ids 1 and 2 (as encode.test.ts).
const encoder: ChatEncoder = {
  encodeChat(messages, options = {}) {
    const ids = messages.flatMap((m) => [m.role === 'user' ? 1 : 2, ...[...m.content].map((c) => 3 + (c.charCodeAt(0) % 29))]);
    return options.addGenerationPrompt ? [...ids, 2] : ids;
  },
};
const qa = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({ question: `What is ${tag}${i}?`, answer: `${tag} ${i * 7}` }));
const records = [
  { passageId: 'a', passage: 'Ada met Bo.', rewrite: 'Bo met Ada.', qa: qa(1, 'a') },
  { passageId: 'empty', passage: 'Nothing.', rewrite: null, qa: [] },
  { passageId: 'b', passage: 'Cy is 9 years old.', rewrite: null, qa: qa(3, 'cy') },
  { passageId: DAPT_ADAPTER_ID, passage: 'Reserved.', rewrite: null, qa: qa(1, 'r') },
  { passageId: 'c', passage: 'Di lives in Oslo.', rewrite: 'Oslo is where Di lives.', qa: qa(2, 'di') },
  { passageId: 'd', passage: 'Ed sings.', rewrite: null, qa: qa(2, 'ed') },
];
const dir = mkdtempSync(join(tmpdir(), 'rg-encode-many-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('encodeDocumentsMany', () => {
  it('stores the adapters encodeDocuments stores, with the same outcomes, and skips them on a second run', async () => {
    const store = AdapterStore.open(dir);
    const single = await TrainingSession.create(config, weights, { targets: DEFAULT_TARGETS });
    const batched = await TrainingSession.create(config, weights, { targets: DEFAULT_TARGETS, batchedAdapters: true });
    const base = initAdapter(config, { rank: 2, alpha: 32, targets: DEFAULT_TARGETS, seed: 1 });
    const scope = { model: 'tiny', rank: 2, alpha: 32, lr: 1e-2, epochs: 3 };
    const options: EncodeOptions = { mode: 'lora', lr: 1e-2, epochs: 3, batchSize: 1, seed: 4 };
    const alone = { session: single, encoder, store, base, scope: { ...scope, dataset: 'alone' }, modelFingerprint: 'tiny-fp' };
    const together = { ...alone, session: batched, scope: { ...scope, dataset: 'together' } };
    try {
      const expected = await encodeDocuments(records, alone, options);
      const finished: string[] = [];
      const passLosses: number[] = [];
      const got = await encodeDocumentsMany(
        records,
        together,
        { ...options, docsPerPass: 3 },
        { onGroup: (o) => finished.push(o.id), onBatch: (b) => passLosses.push(b.loss) },
      );
      expect(got.map((o) => o.status)).toEqual(['trained', 'failed', 'trained', 'failed', 'trained', 'trained']);
      expect(got.map((o) => o.status)).toEqual(expected.map((o) => o.status));
      expect(got[1]).toEqual(expected[1]);
      expect(got[3]).toEqual(expected[3]);
      expect(finished.sort()).toEqual(records.map((r) => r.passageId).sort());
      expect(passLosses.length).toBeGreaterThan(0);
      let worst = 0;
      for (const id of ['a', 'b', 'c', 'd']) {
        const want = store.load({ ...alone.scope, id });
        const have = store.load({ ...together.scope, id });
        const wantEntry = store.get({ ...alone.scope, id })!;
        const haveEntry = store.get({ ...together.scope, id })!;
        expect(haveEntry.trainingConfig).toMatchObject({ docsPerPass: 3, documents: [id], examples: wantEntry.trainingConfig.examples });
        expect((haveEntry.trainingConfig.losses as number[]).length).toBe((wantEntry.trainingConfig.losses as number[]).length);
        for (const [key, p] of want.modules) {
          const q = have.modules.get(key);
          for (const f of ['a', 'b'] as const) {
            p[f].forEach((v, i) => {
              worst = Math.max(worst, Math.abs(v - (q?.[f][i] ?? Number.NaN)));
            });
          }
        }
      }
      expect(worst).toBeLessThan(1e-5);

      const again = await encodeDocumentsMany(records, together, { ...options, docsPerPass: 3 });
      expect(again.map((o) => o.status)).toEqual(['skipped', 'failed', 'skipped', 'failed', 'skipped', 'skipped']);
    } finally {
      await single.release();
      await batched.release();
      store.close();
    }
  });
});
