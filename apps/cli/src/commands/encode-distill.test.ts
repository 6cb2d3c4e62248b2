import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { describe, expect, it } from 'vitest';
import { augmentedLine } from '../test-helpers/augmented.js';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';

// A tiny random model: what gets trained, stored and refused, not what the adapters learn (lora-trainer's distill tests).
describe('rg encode --objective', () => {
  it('distill: trains against the teacher, records objective and top-k, and an lm run over those adapters is a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-encode-distill-'));
    const model = writeTinyModel(join(dir, 'tiny-llama'));
    const input = join(dir, 'aug.jsonl');
    writeFileSync(
      input,
      `${augmentedLine('a', 'Varnholm Island has one lighthouse.', [
        { question: 'How many lighthouses?', answer: 'One' },
        { question: 'Where is the lighthouse?', answer: 'On Varnholm Island' },
      ])}\n`,
    );
    const adapters = join(dir, 'adapters');
    const args = ['--model', model, 'encode', '--input', input, '--store', adapters, '--json'];

    const distill = await runCli([...args, '--objective', 'distill', '--distill-topk', '8', '--lr', '1e-3'], { env: {} });
    expect(distill.code, distill.stderr).toBe(0);
    expect(JSON.parse(distill.stdout)).toMatchObject({ recipe: { objective: 'distill', topK: 8 }, trained: 1 });
    const store = AdapterStore.open(adapters);
    try {
      const key = { model: 'tiny-llama', rank: 2, alpha: 32, dataset: 'aug', lr: 1e-3, epochs: 1, id: 'a' };
      // 2 questions, the passage prompt and (the helper's records have one) the rewrite prompt.
      expect(store.get(key)?.trainingConfig).toMatchObject({
        recipe: { examples: 'qa', loss: 'answer', objective: 'distill', topK: 8, distillWeight: 1 },
        examples: 4,
      });
    } finally {
      store.close();
    }

    const lm = await runCli([...args, '--lr', '1e-3'], { env: {} });
    expect(lm.code).toBe(2);
    expect(lm.stderr).toContain('was trained with objective=distill topK=8, this run asks for examples=qa loss=answer');

    const both = await runCli([...args, '--objective', 'both', '--distill-weight', '0.5', '--dataset', 'aug-both'], { env: {} });
    expect(both.code, both.stderr).toBe(0);
    expect(JSON.parse(both.stdout)).toMatchObject({ recipe: { objective: 'both', topK: 16, distillWeight: 0.5 }, trained: 1 });
  }, 120_000);

  it('refuses flags that do not fit the objective, naming them', async () => {
    const run = async (extra: string[]) => (await runCli(['encode', '--input', 'x.jsonl', ...extra], { env: {} })).stderr;
    expect(await run(['--distill-topk', '8'])).toContain('--distill-topk: only with --objective distill or both');
    expect(await run(['--objective', 'distill', '--distill-weight', '2'])).toContain('--distill-weight: only with --objective both');
    expect(await run(['--objective', 'both', '--docs-per-pass', '4'])).toContain('--objective both trains one passage per pass');
    expect(await run(['--objective', 'kl'])).toMatch(/argument 'kl' is invalid. expected one of lm, distill, both/);
  });
});
