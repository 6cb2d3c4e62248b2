import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { clusterAdapterId } from '@rg/clustering';
import { reservedAdapterId } from '@rg/lora-trainer';
import { clusterStore } from '@rg/pipeline';
import { afterAll, describe, expect, it } from 'vitest';
import { augmentedLine } from '../test-helpers/augmented.js';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';

// A tiny random model: the test is about what is trained on what and stored where, not about what the adapters learn.
const env = { RG_THREADS: '2' };
const dir = mkdtempSync(join(tmpdir(), 'rg-cluster-train-'));
const model = writeTinyModel(join(dir, 'tiny-llama'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rg cluster train', () => {
  it('names cluster adapters with ids that rg encode refuses for documents', () => {
    // Both packages own half of this rule: a document called like a cluster adapter would overwrite it.
    for (const [k, n] of [
      [10, 0],
      [100, 99],
    ])
      expect(reservedAdapterId(clusterAdapterId(k, n))).toMatch(/cluster adapter/);
    expect(reservedAdapterId('cluster-k10-3b')).toBeNull();
    expect(reservedAdapterId('12345')).toBeNull();
  });

  it('trains one adapter per cluster into the adapter store with the rg encode layout, and resumes', async () => {
    const store = join(dir, 'corpus');
    mkdirSync(store);
    // Clusters from hand-made vectors: {a, b} and {c}.
    await clusterStore(
      store,
      [
        { id: 'a', vector: [0, 0] },
        { id: 'b', vector: [0, 1] },
        { id: 'c', vector: [9, 9] },
      ],
      { k: 2, seed: 0, representatives: 2, pick: 'centroid', maxIterations: 100, tolerance: 1e-6, refit: false },
    );
    const input = join(dir, 'aug.jsonl');
    writeFileSync(
      input,
      `${[
        augmentedLine('a', 'Varnholm Island has one lighthouse.', [{ question: 'How many lighthouses are on Varnholm?', answer: 'One' }]),
        augmentedLine('b', 'Edda Quist keeps the Varnholm lighthouse.', [{ question: 'Who keeps the lighthouse?', answer: 'Edda Quist' }]),
        augmentedLine('c', 'Ostby has a bakery.', [{ question: 'What does Ostby have?', answer: 'A bakery' }]),
      ].join('\n')}\n`,
    );
    const adapters = join(dir, 'adapters');
    const args = [
      '--model',
      model,
      'cluster',
      'train',
      '--store',
      store,
      '--input',
      input,
      '--adapters',
      adapters,
      '--lr',
      '1e-3',
      '--seed',
      '2',
    ];
    const first = await runCli([...args, '--batch-size', '2', '--json'], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ k: 2, on: 'representatives', documents: 3, trained: 2, failed: 0 });
    const s = AdapterStore.open(adapters);
    try {
      const scope = { model: 'tiny-llama', rank: 2, alpha: 32, dataset: 'aug', lr: 1e-3, epochs: 1 };
      const entries = ['cluster-k2-0', 'cluster-k2-1'].map((id) => s.get({ ...scope, id }));
      const docs = entries.map((e) => ((e?.trainingConfig ?? { documents: [] }) as { documents: string[] }).documents.sort());
      expect(docs.sort((x, y) => x.length - y.length)).toEqual([['c'], ['a', 'b']]);
      // --seed and --batch-size given after `train` reached the trainer.
      expect(entries[0]?.trainingConfig).toMatchObject({ seed: 2, batchSize: 2 });
      expect(
        s
          .load({ ...scope, id: 'cluster-k2-0' })
          .modules.get('0.up_proj')
          ?.b.some((v) => v !== 0),
      ).toBe(true);
    } finally {
      s.close();
    }
    const again = await runCli([...args, '--batch-size', '2', '--json'], { env });
    expect(JSON.parse(again.stdout)).toMatchObject({ trained: 0, skipped: 2 });
  }, 120_000);
});
