import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { randomLlamaWeights, TrainingSession, tinyLlamaConfig } from '@rg/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { type EncodeOptions, encodeDocuments } from './encode.js';
import { DEFAULT_TARGETS, initAdapter } from './init.js';
import type { ChatEncoder } from './recipe.js';

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
