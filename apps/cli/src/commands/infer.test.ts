import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { ensureModel, tinyLlamaConfig } from '@rg/engine';
import { DAPT_ADAPTER_ID, DEFAULT_TARGETS, initAdapter } from '@rg/lora-trainer';
import { beforeAll, describe, expect, it } from 'vitest';
import { augmentedLine } from '../test-helpers/augmented.js';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';

const DEMO = resolve(import.meta.dirname, '../../demo');
// The default model is pulled on first use (into the default RG_HOME the CLI runs below use).
beforeAll(async () => {
  await ensureModel();
});

describe('rg infer', () => {
  it('rejects an unknown dataset, split or method with what was expected', async () => {
    const bad = await runCli(['infer', '--dataset', 'squad', '--method', 'icl'], { env: {} });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown dataset (expected pubmedqa, popqa, chemprot or jsonl:QUESTIONS.jsonl)');
    const method = await runCli(['infer', '--dataset', 'popqa', '--method', 'icl,rag'], { env: {} });
    expect(method.code).toBe(2);
    expect(method.stderr).toContain('expected methods from wo_param');
    const missing = await runCli(['infer', '--dataset', `jsonl:${join(DEMO, 'questions.jsonl')}`, '--method', 'icl'], { env: {} });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('need --store');
  });

  it('method dapt: names the store, scope and command when the DAPT adapter is missing, and refuses a non-DAPT one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-infer-dapt-'));
    const adapters = join(dir, 'adapters');
    const store = AdapterStore.open(adapters);
    const model = writeTinyModel(join(dir, 'tiny-llama'));
    const args = [
      '--model',
      model,
      'infer',
      '--dataset',
      `jsonl:${join(DEMO, 'questions.jsonl')}`,
      '--method',
      'dapt',
      '--adapters',
      adapters,
    ];
    try {
      const missing = await runCli([...args, '--out', join(dir, 'out')], { env: {} });
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(
        `no DAPT adapter in the adapter store ${adapters} under model tiny-llama, rank 2, alpha 32, dataset questions, lr 0.0003, epochs 1`,
      );
      expect(missing.stderr).toContain(
        `run rg encode --dapt --input AUGMENTED.jsonl --store ${adapters} --dataset questions --rank 2 --alpha 32 --lr 0.0003 --epochs 1`,
      );
      // A document that took the reserved id (written by hand: rg encode refuses it) is not taken for the DAPT adapter.
      const config = tinyLlamaConfig();
      const key = { model: 'tiny-llama', rank: 2, alpha: 32, dataset: 'questions', lr: 0.0003, epochs: 1, id: DAPT_ADAPTER_ID };
      store.put(key, initAdapter(config, { rank: 2, alpha: 32, targets: DEFAULT_TARGETS }), { modelFingerprint: 'x', trainingConfig: {} });
      const wrong = await runCli([...args, '--out', join(dir, 'out')], { env: {} });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toContain('is not a DAPT adapter (no kind "dapt" in its training config)');
    } finally {
      store.close();
    }
  }, 60_000);

  it('--compose mean: weights the composed adapters 1/k, records the mode and answers into a folder of its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-infer-compose-'));
    const model = writeTinyModel(join(dir, 'tiny-llama'));
    const adapters = join(dir, 'adapters');
    const augmented = join(dir, 'aug.jsonl');
    const qa = [{ question: 'What is it?', answer: 'A place' }];
    writeFileSync(augmented, `${['velmora', 'quorinium'].map((id) => augmentedLine(id, `${id} is a place.`, qa)).join('\n')}\n`);
    const encode = ['--model', model, 'encode', '--input', augmented, '--store', adapters, '--dataset', 'questions'];
    expect((await runCli(encode, { env: {} })).code).toBe(0);
    const infer = ['--model', model, 'infer', '--dataset', `jsonl:${join(DEMO, 'questions.jsonl')}`, '--method', 'oracle,wo_param'];
    const run = async (extra: string[]) => {
      const r = await runCli([...infer, '--adapters', adapters, '--out', join(dir, 'out'), '--json', ...extra], { env: {} });
      expect(r.code, r.stderr).toBe(0);
      return r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { method: string; dir: string });
    };
    const folders = join(dir, 'out', 'tiny-llama', 'rank=2_alpha=32', 'questions', 'lr=0.0003_epoch=1');
    const read = (d: string, f: string) => JSON.parse(readFileSync(join(d, f), 'utf8'));

    const [mean, woParam] = await run(['--compose', 'mean']);
    expect(mean.dir).toBe(join(folders, 'oracle-mean'));
    expect(read(mean.dir, 'config.json')).toMatchObject({ method: 'oracle', compose: 'mean' });
    const applied = (read(mean.dir, 'predict.json') as Array<{ adapters: string[]; adapterWeights?: number[] }>).filter(
      (p) => p.adapters.length > 0,
    );
    expect(applied.length).toBeGreaterThan(0);
    for (const p of applied) expect(p.adapterWeights).toEqual(p.adapters.map(() => 1 / p.adapters.length));
    // A method that composes nothing is not changed by the mode.
    expect(woParam.dir).toBe(join(folders, 'wo_param'));
    expect(read(woParam.dir, 'config.json')).not.toHaveProperty('compose');

    const [cat] = await run([]);
    expect(cat.dir).toBe(join(folders, 'oracle'));
    expect(read(cat.dir, 'config.json')).toMatchObject({ compose: 'cat' });
    expect(read(cat.dir, 'predict.json')[0]).not.toHaveProperty('adapterWeights');
  }, 120_000);

  it('finds the adapters encode stored under its input file name, and fails naming the store when none match', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-infer-scope-'));
    const model = writeTinyModel(join(dir, 'tiny-llama'));
    const adapters = join(dir, 'adapters');
    const augmented = join(dir, 'demo-aug.jsonl');
    writeFileSync(augmented, `${augmentedLine('velmora', 'velmora is a place.', [{ question: 'What is it?', answer: 'A place' }])}\n`);
    // No --dataset: encode names it after the input file ("demo-aug"), infer after the questions ("questions").
    expect((await runCli(['--model', model, 'encode', '--input', augmented, '--store', adapters], { env: {} })).code).toBe(0);
    const infer = ['--model', model, 'infer', '--dataset', `jsonl:${join(DEMO, 'questions.jsonl')}`, '--method', 'oracle'];
    const base = [...infer, '--adapters', adapters, '--out', join(dir, 'out'), '--sample', '2'];

    const found = await runCli(base, { env: {} });
    expect(found.code, found.stderr).toBe(0);
    expect(found.stderr).toContain('using the store\'s only dataset with model tiny-llama: "demo-aug"');
    // Nor does infer need encode's shape flags: the store has one setup, so it is the one.
    expect(found.stderr).toContain(
      `adapters in ${adapters}: rank 2, alpha 32, lr 0.0003, epochs 1 (--rank, --alpha, --lr, --epochs taken from the store)`,
    );

    const typo = await runCli([...base, '--adapter-dataset', 'demo-agu'], { env: {} });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain(`no adapters in ${adapters} under dataset "demo-agu"`);
    expect(typo.stderr).toContain('under dataset(s) "demo-aug": pass --adapter-dataset NAME');

    const shape = await runCli([...base, '--lr', '0.001'], { env: {} });
    expect(shape.code).toBe(2);
    expect(shape.stderr).toContain(
      `no adapters in ${adapters} under dataset "questions" with model tiny-llama, lr 0.001; it holds dataset "demo-aug" with rank 2, alpha 32, lr 0.0003, epochs 1`,
    );

    // A second training setup under the same dataset: left out, the shape is ambiguous and refused; given, chosen.
    const again = ['--model', model, 'encode', '--input', augmented, '--store', adapters, '--lr', '0.001', '--epochs', '2'];
    expect((await runCli(again, { env: {} })).code).toBe(0);
    const ambiguous = await runCli(base, { env: {} });
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('from 2 training setups');
    expect(ambiguous.stderr).toContain('lr 0.001, epochs 2');
    expect(ambiguous.stderr).toContain('pass --rank, --alpha, --lr or --epochs to choose');
    const chosen = await runCli([...base, '--epochs', '2', '--json'], { env: {} });
    expect(chosen.code, chosen.stderr).toBe(0);
    expect(chosen.stderr).toContain('rank 2, alpha 32, lr 0.001, epochs 2 (--rank, --alpha, --lr taken from the store)');
    expect(JSON.parse(chosen.stdout.trim().split('\n')[0]).dir).toContain(join('questions', 'lr=0.001_epoch=2'));
  }, 120_000);

  it('answers demo questions with wo_param and icl on SmolLM2 and writes the run folders', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-infer-'));
    const store = join(dir, 'store');
    expect((await runCli(['corpus', 'ingest', '--input', join(DEMO, 'corpus.jsonl'), '--store', store], { env: {} })).code).toBe(0);
    expect((await runCli(['index', 'build', '--store', store], { env: {} })).code).toBe(0);
    const args = ['infer', '--dataset', `jsonl:${join(DEMO, 'questions.jsonl')}`, '--store', store, '--method', 'wo_param,icl'];
    const r = await runCli([...args, '--sample', '4', '--seed', '1', '--topk', '1', '--out', join(dir, 'out'), '--json'], { env: {} });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.method)).toEqual(['wo_param', 'icl']);
    const icl = lines[1];
    expect(icl.dir).toBe(join(dir, 'out', 'smollm2-135m-instruct', 'rank=2_alpha=32', 'questions', 'lr=0.0003_epoch=1', 'icl'));
    const predictions = JSON.parse(readFileSync(join(icl.dir, 'predict.json'), 'utf8'));
    expect(predictions).toHaveLength(4);
    // BM25 finds each question's own document, and with it in the prompt the model picks the right choice.
    for (const p of predictions) expect(p.retrievedIds).toHaveLength(1);
    expect(icl.accuracy).toBeGreaterThanOrEqual(0.75);
    expect(icl.accuracy).toBeGreaterThan(lines[0].accuracy);
    expect(readFileSync(join(icl.dir, 'result.txt'), 'utf8')).toContain('score (accuracy):');
    expect(JSON.parse(readFileSync(join(icl.dir, 'config.json'), 'utf8'))).toMatchObject({ method: 'icl', sample: 4, seed: 1, topk: 1 });
  }, 600_000);
});
