import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { DAPT_ADAPTER_ID } from '@rg/lora-trainer';
import { describe, expect, it } from 'vitest';
import { augmentedLine } from '../test-helpers/augmented.js';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';

// A tiny random model: these tests are about what gets stored and reported, not about what the adapters learn.
describe('rg encode', () => {
  it('--dapt trains one adapter on every passage under the reserved id, reports it as JSON, and skips it when run again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-encode-'));
    const model = writeTinyModel(join(dir, 'tiny-llama'));
    const input = join(dir, 'aug.jsonl');
    writeFileSync(
      input,
      `${[
        augmentedLine('a', 'Varnholm Island has one lighthouse.', [{ question: 'How many lighthouses?', answer: 'One' }]),
        augmentedLine('b', 'Edda Quist keeps it.', [
          { question: 'Who keeps it?', answer: 'Edda Quist' },
          { question: 'What does Edda Quist keep?', answer: 'The lighthouse' },
        ]),
        augmentedLine(DAPT_ADAPTER_ID, 'A document that took the reserved id.', [{ question: 'Which id?', answer: 'The reserved one' }]),
      ].join('\n')}\n`,
    );
    const adapters = join(dir, 'adapters');
    const args = ['--model', model, 'encode', '--input', input, '--store', adapters, '--lr', '1e-3', '--batch-size', '2', '--json'];

    const dapt = await runCli([...args, '--dapt', '--epochs', '2'], { env: {} });
    expect(dapt.code, dapt.stderr).toBe(0);
    const summary = JSON.parse(dapt.stdout);
    // a: 1 closed-book example; b: 1 pair with context (passage + rewrite) and 1 closed-book; the third: 1. Two epochs of 2 batches.
    expect(summary).toMatchObject({ id: DAPT_ADAPTER_ID, status: 'trained', passages: 3, examples: 5, steps: 6 });
    expect(summary.bytes).toBeGreaterThan(0);
    const key = { model: 'tiny-llama', rank: 2, alpha: 32, dataset: 'aug', lr: 1e-3, epochs: 2, id: DAPT_ADAPTER_ID };
    const store = AdapterStore.open(adapters);
    try {
      expect(store.get(key)?.trainingConfig).toMatchObject({ kind: 'dapt', documents: ['a', 'b', DAPT_ADAPTER_ID], examples: 5 });
    } finally {
      store.close();
    }
    const again = await runCli([...args, '--dapt', '--epochs', '2'], { env: {} });
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'skipped', steps: 0, examples: 5 });

    // Per document, the passage with the reserved id fails by name; the others are stored.
    const perDoc = await runCli([...args, '--epochs', '2'], { env: {} });
    expect(perDoc.code, perDoc.stderr).toBe(0);
    expect(JSON.parse(perDoc.stdout)).toMatchObject({ trained: 2, failed: 1, failedIds: [DAPT_ADAPTER_ID] });
    expect(perDoc.stderr).toContain(`FAILED ${DAPT_ADAPTER_ID}: document id "${DAPT_ADAPTER_ID}" is reserved for the DAPT adapter`);
  }, 120_000);

  it('--gradient-checkpointing stores the adapters it would store without it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-encode-'));
    const model = writeTinyModel(join(dir, 'tiny-llama'));
    const input = join(dir, 'aug.jsonl');
    writeFileSync(
      input,
      `${[
        augmentedLine('a', 'Varnholm Island has one lighthouse.', [{ question: 'How many lighthouses?', answer: 'One' }]),
        augmentedLine('b', 'Edda Quist keeps it.', [{ question: 'Who keeps it?', answer: 'Edda Quist' }]),
      ].join('\n')}\n`,
    );
    const adapters = (name: string) => join(dir, name);
    const args = (store: string) => [
      '--model',
      model,
      'encode',
      '--input',
      input,
      '--store',
      store,
      '--lr',
      '1e-3',
      '--epochs',
      '2',
      '--json',
    ];
    const plain = await runCli(args(adapters('plain')), { env: {} });
    expect(plain.code, plain.stderr).toBe(0);
    const recomputed = await runCli([...args(adapters('checkpointed')), '--gradient-checkpointing'], { env: {} });
    expect(recomputed.code, recomputed.stderr).toBe(0);
    expect(JSON.parse(recomputed.stdout)).toMatchObject({ trained: 2, failed: 0 });
    const a = AdapterStore.open(adapters('plain'));
    const b = AdapterStore.open(adapters('checkpointed'));
    try {
      for (const id of ['a', 'b']) {
        const key = { model: 'tiny-llama', rank: 2, alpha: 32, dataset: 'aug', lr: 1e-3, epochs: 2, id };
        const [x, y] = [a.load(key), b.load(key)];
        expect([...y.modules.keys()]).toEqual([...x.modules.keys()]);
        for (const [name, pair] of x.modules) {
          // The same ops on the same values: the trained weights agree to float32 rounding.
          for (const t of ['a', 'b'] as const) {
            const [u, v] = [pair[t], y.modules.get(name)![t]];
            for (let i = 0; i < u.length; i++) expect(Math.abs(v[i] - u[i]), `${id} ${name} ${t}[${i}]`).toBeLessThan(1e-6);
          }
        }
      }
    } finally {
      a.close();
      b.close();
    }
  }, 120_000);

  it('trains a failed record on the QA pairs it kept (no rewrite) and skips one with none, saying which', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-encode-'));
    const model = writeTinyModel(join(dir, 'tiny-llama'));
    const input = join(dir, 'aug.jsonl');
    const failed = (id: string, qa: Array<{ question: string; answer: string }>, reason: string) =>
      JSON.stringify({ ...JSON.parse(augmentedLine(id, `Passage ${id}.`, qa)), rewrite: null, status: 'failed', failureReason: reason });
    writeFileSync(
      input,
      `${[
        augmentedLine('ok', 'Varnholm Island has one lighthouse.', [{ question: 'How many lighthouses?', answer: 'One' }]),
        failed('partial', [{ question: 'Who keeps it?', answer: 'Edda Quist' }], 'rewrite: 1 of 3 sentences reworded'),
        failed('empty', [], 'qa: no grounded answer'),
      ].join('\n')}\n`,
    );
    const adapters = join(dir, 'adapters');
    const r = await runCli(['--model', model, 'encode', '--input', input, '--store', adapters, '--json'], { env: {} });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ trained: 2, failed: 0 });
    expect(r.stderr).toContain(
      'partial partial: augmentation failed (rewrite: 1 of 3 sentences reworded); training on its 1 QA pair(s) without a rewrite',
    );
    expect(r.stderr).toContain('skip empty: no question/answer pair to train on (augmentation: qa: no grounded answer)');
    const store = AdapterStore.open(adapters);
    try {
      expect(
        store
          .list()
          .map((e) => e.relPath.split('/').at(-1))
          .sort(),
      ).toEqual(['base_weight', 'ok', 'partial']);
    } finally {
      store.close();
    }
  }, 120_000);

  it('--examples / --loss: recorded with each adapter, and a run with another recipe over them is a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-encode-'));
    const model = writeTinyModel(join(dir, 'tiny-llama'));
    const input = join(dir, 'aug.jsonl');
    writeFileSync(
      input,
      `${[
        augmentedLine('a', 'Varnholm Island has one lighthouse.', [
          { question: 'How many lighthouses?', answer: 'One' },
          { question: 'Where is the lighthouse?', answer: 'On Varnholm Island' },
          { question: 'What is on Varnholm Island?', answer: 'A lighthouse' },
        ]),
        JSON.stringify({
          ...JSON.parse(augmentedLine('no-qa', 'Edda Quist keeps it.', [])),
          rewrite: null,
          status: 'failed',
          failureReason: 'qa: no grounded answer',
        }),
      ].join('\n')}\n`,
    );
    const adapters = join(dir, 'adapters');
    const args = ['--model', model, 'encode', '--input', input, '--store', adapters, '--json'];

    const prag = await runCli([...args, '--examples', 'prag', '--loss', 'all'], { env: {} });
    expect(prag.code, prag.stderr).toBe(0);
    // Only the record with QA pairs trains with a chat layout.
    expect(JSON.parse(prag.stdout)).toMatchObject({ recipe: { examples: 'prag', loss: 'all' }, trained: 1 });
    const key = { model: 'tiny-llama', rank: 2, alpha: 32, dataset: 'aug', lr: 3e-4, epochs: 1, id: 'a' };
    const store = AdapterStore.open(adapters);
    try {
      // ceil(3/2) = 2 pairs with passage and with rewrite, 1 closed-book.
      expect(store.get(key)?.trainingConfig).toMatchObject({ recipe: { examples: 'prag', loss: 'all' }, examples: 5, lr: 3e-4 });
    } finally {
      store.close();
    }

    const other = await runCli(args, { env: {} });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('was trained with examples=prag loss=all, this run asks for examples=qa loss=answer');
    expect(other.stderr).toContain('(--store DIR or --dataset NAME)');

    // The passage layout needs no QA pairs: both records train, into their own dataset.
    const passage = await runCli([...args, '--examples', 'passage', '--dataset', 'aug-passage'], { env: {} });
    expect(passage.code, passage.stderr).toBe(0);
    expect(JSON.parse(passage.stdout)).toMatchObject({ recipe: { examples: 'passage', loss: 'all' }, trained: 2 });
    expect(passage.stderr).toContain('partial no-qa: augmentation failed (qa: no grounded answer); training on its passage');
    expect((await runCli(['encode', '--examples', 'pretrain', '--input', input], { env: {} })).stderr).toMatch(
      /argument 'pretrain' is invalid. expected one of qa, prag, passage/,
    );
  }, 120_000);

  it('exits 1 when every document it tried failed (all examples over --max-tokens), naming the first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-encode-fail-'));
    const model = writeTinyModel(join(dir, 'tiny-llama'));
    const input = join(dir, 'aug.jsonl');
    const qa = [{ question: 'Who keeps the lighthouse on Varnholm Island?', answer: 'Edda Quist' }];
    writeFileSync(
      input,
      `${['a', 'b'].map((id) => augmentedLine(id, 'Edda Quist keeps the lighthouse on Varnholm Island.', qa)).join('\n')}\n`,
    );
    const r = await runCli(['--model', model, 'encode', '--input', input, '--store', join(dir, 'adapters'), '--max-tokens', '4'], {
      env: {},
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('encoded 0, skipped 0 (already stored), failed 2');
    expect(r.stderr).toContain('all 2 documents to train failed (first: a: ');
  }, 60_000);

  it('initialises the base_weight once, saying so, and refuses other --targets than the stored one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-encode-'));
    const model = writeTinyModel(join(dir, 'tiny-llama'));
    const input = join(dir, 'aug.jsonl');
    writeFileSync(input, `${augmentedLine('a', 'Varnholm Island has one lighthouse.', [{ question: 'How many?', answer: 'One' }])}\n`);
    const args = ['--model', model, 'encode', '--input', input, '--store', join(dir, 'adapters'), '--json'];
    const first = await runCli([...args, '--seed', '4'], { env: {} });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('no base_weight for tiny-llama rank=2 alpha=32: initialised one (seed 4)');
    const other = await runCli([...args, '--targets', 'down_proj'], { env: {} });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(
      'rg: error: --targets down_proj: the stored base_weight targets down_proj,gate_proj,up_proj (rg adapter init with other targets, or another --store)',
    );
    expect(other.stderr).not.toContain('initialised one');
  }, 120_000);
});
