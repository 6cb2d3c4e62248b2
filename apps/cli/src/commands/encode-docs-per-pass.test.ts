import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { describe, expect, it } from 'vitest';
import { augmentedLine } from '../test-helpers/augmented.js';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';

describe('rg encode --docs-per-pass', () => {
  it('stores the adapters one-at-a-time training stores (to fp32 rounding), and is refused with --dapt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-encode-many-'));
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
        augmentedLine('c', 'The lamp was lit in 1871.', [{ question: 'When was the lamp lit?', answer: 'In 1871' }]),
      ].join('\n')}\n`,
    );
    const adapters = join(dir, 'adapters');
    const args = ['--model', model, 'encode', '--input', input, '--store', adapters, '--lr', '1e-2', '--epochs', '2', '--json'];

    const alone = await runCli([...args, '--dataset', 'alone'], { env: {} });
    expect(alone.code, alone.stderr).toBe(0);
    const together = await runCli([...args, '--dataset', 'together', '--docs-per-pass', '3'], { env: {} });
    expect(together.code, together.stderr).toBe(0);
    expect(JSON.parse(together.stdout)).toMatchObject({ trained: 3, failed: 0 });
    const store = AdapterStore.open(adapters);
    try {
      let worst = 0;
      for (const id of ['a', 'b', 'c']) {
        const key = { model: 'tiny-llama', rank: 2, alpha: 32, lr: 1e-2, epochs: 2, id };
        const want = store.load({ ...key, dataset: 'alone' });
        const have = store.load({ ...key, dataset: 'together' });
        expect(store.get({ ...key, dataset: 'together' })?.trainingConfig.docsPerPass).toBe(3);
        for (const [name, p] of want.modules) {
          for (const f of ['a', 'b'] as const) {
            const q = have.modules.get(name)?.[f] as Float32Array;
            for (let i = 0; i < p[f].length; i++) worst = Math.max(worst, Math.abs(p[f][i] - q[i]));
          }
        }
      }
      expect(worst).toBeLessThan(1e-5);
    } finally {
      store.close();
    }
    const again = await runCli([...args, '--dataset', 'together', '--docs-per-pass', '3'], { env: {} });
    expect(JSON.parse(again.stdout)).toMatchObject({ trained: 0, skipped: 3 });

    const dapt = await runCli([...args, '--dapt', '--docs-per-pass', '2'], { env: {} });
    expect(dapt.code).toBe(2);
    expect(dapt.stderr).toContain('--docs-per-pass: --dapt trains one adapter');
  }, 120_000);
});
