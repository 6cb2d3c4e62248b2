import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { loadModel, OrtCausalLM } from '@rg/engine';
import { buildMessages, engineAnswerModel, loadDataset, sampleExamples } from '@rg/inference';
import { loadWarmup, WARMUP_ADAPTER_ID } from '@rg/lora-trainer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { augmentedLine } from '../test-helpers/augmented.js';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'rg-warmup-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A PubMedQA in its published layout: 12 questions, 4 of them the "official" test split.
const dataDir = join(dir, 'data');
const pmids = Array.from({ length: 12 }, (_, i) => String(1000 + i));
const testIds = pmids.slice(8);
const labels = ['yes', 'no', 'maybe'];
let model: string;
beforeAll(() => {
  mkdirSync(join(dataDir, 'pubmedqa'), { recursive: true });
  const questions = Object.fromEntries(
    pmids.map((id, i) => [
      id,
      {
        QUESTION: `Does compound ${id} help?`,
        CONTEXTS: [`Compound ${id} was studied in a trial of two hundred adults with chronic pain over twelve weeks in Boston.`],
        final_decision: labels[i % 3],
      },
    ]),
  );
  writeFileSync(join(dataDir, 'pubmedqa', 'ori_pqal.json'), JSON.stringify(questions));
  writeFileSync(
    join(dataDir, 'pubmedqa', 'test_ground_truth.json'),
    JSON.stringify(Object.fromEntries(testIds.map((id) => [id, questions[id].final_decision]))),
  );
  model = writeTinyModel(join(dir, 'tiny-llama'));
});

const cli = (args: string[]) => runCli(['--model', model, ...args], { env: {} });
const warmupArgs = (store: string) => ['adapter', 'warmup', '--dataset', 'pubmedqa', '--data-dir', dataDir, '--store', store];
const devIds = () => loadDataset('pubmedqa', { dataDir, split: 'dev' }).examples.map((e) => e.id);

describe('rg adapter warmup', () => {
  it('trains on non-test questions only (minus the excluded sample), records their ids and refuses the test split', async () => {
    const store = join(dir, 'store-train');
    const r = await cli([...warmupArgs(store), '--n', '5', '--exclude-sample', '2', '--exclude-seed', '0', '--lr', '0.01', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ split: 'dev', pairs: 5, excludedQuestions: 2, dataset: 'pubmedqa' });
    expect(summary.key).toMatchObject({ id: WARMUP_ADAPTER_ID, dataset: 'pubmedqa', lr: 0.01, epochs: 1 });
    expect(summary.status).toBe('trained');
    // Run again with the same questions and settings (a resumed rg bench e2e): kept, not trained again.
    const again = await cli([...warmupArgs(store), '--n', '5', '--exclude-sample', '2', '--exclude-seed', '0', '--lr', '0.01', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'skipped', sha256: summary.sha256 });

    const s = AdapterStore.open(store);
    try {
      const entry = s.get(summary.key);
      expect(entry?.contentHash).toBe(summary.sha256);
      const config = entry?.trainingConfig as { kind: string; split: string; questionIds: string[] };
      expect(config.kind).toBe('warmup');
      expect(config.split).toBe('dev');
      const excluded = sampleExamples(loadDataset('pubmedqa', { dataDir, split: 'dev' }).examples, 2, 0).map((e) => e.id);
      expect(config.questionIds).toHaveLength(5);
      for (const id of config.questionIds) {
        expect(devIds()).toContain(id);
        expect(testIds).not.toContain(id);
        expect(excluded).not.toContain(id);
      }
    } finally {
      s.close();
    }

    for (const split of ['test', 'all']) {
      const refused = await cli([...warmupArgs(join(dir, 'store-refused')), '--split', split, '--n', '3']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`--split ${split}: the warm-up never trains on test questions`);
    }
    // rg bench e2e --warmup on a split that holds the warm-up's questions: refused before any step runs.
    const bench = await cli([
      'bench',
      'e2e',
      '--dataset',
      'pubmedqa',
      '--data-dir',
      dataDir,
      '--split',
      'all',
      '--sample',
      '2',
      '--warmup',
      '--out',
      join(dir, 'e2e'),
    ]);
    expect(bench.code).toBe(2);
    expect(bench.stderr).toContain("--warmup: --split all holds the warm-up's dev questions; evaluate on dev or test");
    // More pairs than the split holds: all of them, said.
    const all = await cli([...warmupArgs(join(dir, 'store-all')), '--n', '50', '--json']);
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout).pairs).toBe(8);
    expect(all.stderr).toContain('--n 50: the dev split has 8 questions left to train on; using all of them');
  }, 120_000);

  it('rg encode/infer --warmup: documents trained on top, the warm-up stacked under every method, mismatches refused', async () => {
    const store = join(dir, 'store-stack');
    expect((await cli([...warmupArgs(store), '--n', '6', '--lr', '0.01', '--epochs', '2'])).code).toBe(0);
    const augmented = join(dir, 'aug.jsonl');
    const lines = testIds.map((id) =>
      augmentedLine(id, `Compound ${id} was studied.`, [{ question: `Was ${id} studied?`, answer: 'yes' }]),
    );
    writeFileSync(augmented, `${lines.join('\n')}\n`);
    const encoded = await cli(['encode', '--input', augmented, '--store', store, '--dataset', 'pubmedqa', '--warmup', '--json']);
    expect(encoded.code, encoded.stderr).toBe(0);
    expect(encoded.stderr).toContain('training on top of the warm-up adapter _warmup');

    const s = AdapterStore.open(store);
    const warmupEntry = s.list({ id: WARMUP_ADAPTER_ID })[0];
    const doc = s.get({ model: 'tiny-llama', rank: 2, alpha: 32, dataset: 'pubmedqa', lr: 0.0003, epochs: 1, id: testIds[0] });
    expect(doc?.trainingConfig.warmup).toEqual({ key: warmupEntry.key, sha256: warmupEntry.contentHash });
    const warmup = loadWarmup(s, warmupEntry);
    s.close();

    const infer = ['infer', '--dataset', 'pubmedqa', '--data-dir', dataDir, '--split', 'test', '--adapters', store];
    const run = await cli([...infer, '--method', 'wo_param,oracle', '--warmup', '--out', join(dir, 'out-warm'), '--json']);
    expect(run.code, run.stderr).toBe(0);
    const [woParam, oracle] = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { dir: string });
    const read = (d: string, f: string) => JSON.parse(readFileSync(join(d, f), 'utf8'));
    expect(read(woParam.dir, 'config.json').warmup).toMatchObject({ sha256: warmupEntry.contentHash, key: warmupEntry.key });
    expect(read(oracle.dir, 'predict.json')[0].adapters).toEqual([testIds[0]]);

    // wo_param --warmup is the base model with the warm-up's delta, nothing else: the label log-likelihoods the engine
    // gives with the warm-up as the only adapter.
    const loaded = await loadModel(model);
    const lm = await OrtCausalLM.load(loaded.config, loaded.weights);
    try {
      const answerModel = engineAnswerModel(lm, loaded.tokenizer);
      const dataset = loadDataset('pubmedqa', { dataDir, split: 'test' });
      const predictions = read(woParam.dir, 'predict.json') as Array<{ id: string; labelLogLikelihoods: number[] }>;
      for (const p of predictions) {
        const q = dataset.examples.find((e) => e.id === p.id)!;
        const messages = buildMessages(q.question, { instruction: dataset.instruction });
        const withWarmup = await answerModel.continuationLogLikelihoods(messages, q.choices!, { adapters: warmup.weights });
        const plain = await answerModel.continuationLogLikelihoods(messages, q.choices!, { adapters: null });
        for (const [i, v] of p.labelLogLikelihoods.entries()) expect(v).toBeCloseTo(withWarmup[i], 5);
        expect(Math.max(...p.labelLogLikelihoods.map((v, i) => Math.abs(v - plain[i])))).toBeGreaterThan(1e-4);
      }
    } finally {
      await lm.dispose();
    }

    // Adapters trained on top of the warm-up, applied without it: refused.
    const without = await cli([...infer, '--method', 'oracle', '--out', join(dir, 'out-plain')]);
    expect(without.code).toBe(2);
    expect(without.stderr).toContain(`was trained on top of the warm-up`);
    expect(without.stderr).toContain('apply it with that warm-up (--warmup)');
    // The warm-up saw the dev questions: answering them with it is refused.
    const dev = await cli([...infer.slice(0, -4), '--split', 'dev', '--adapters', store, '--method', 'wo_param', '--warmup']);
    expect(dev.code).toBe(2);
    expect(dev.stderr).toContain('--warmup: the warm-up adapter was trained on 6 of the 8 questions to answer');
    // A retrained warm-up (another sha256) under adapters trained on the first one: refused naming both.
    expect((await cli([...warmupArgs(store), '--n', '6', '--lr', '0.01', '--epochs', '2', '--seed', '4'])).code).toBe(0);
    const other = await cli([...infer, '--method', 'oracle', '--warmup', '--out', join(dir, 'out-other')]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`was trained on top of the warm-up with sha256 ${warmupEntry.contentHash}`);
    expect(other.stderr).toContain('encode the documents again on top of this warm-up');
  }, 240_000);

  it('rg bench e2e --warmup: base + warm-up and RAG + warm-up columns, adapters on top of the warm-up, plain base and RAG as references', async () => {
    const out = join(dir, 'e2e-warm');
    const r = await cli([
      'bench',
      'e2e',
      '--dataset',
      'pubmedqa',
      '--data-dir',
      dataDir,
      '--split',
      'test',
      '--sample',
      '3',
      '--topk',
      '1',
      '--warmup',
      '--warmup-n',
      '4',
      '--no-dapt',
      '--cluster-k',
      'none',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const figures = JSON.parse(r.stdout);
    expect(figures.columns.map((c: { title: string }) => c.title)).toEqual([
      'base',
      'base + warm-up',
      'DAPT',
      'RAG',
      'RAG + warm-up',
      'RG',
      'RG+RAG',
    ]);
    expect(figures.settings.warmup).toMatchObject({ split: 'dev', n: 4, pairs: 4 });
    expect(Object.keys(figures.methodsWithoutWarmup).sort()).toEqual(['icl', 'wo_param']);
    expect(figures.columns[1].vsBase).not.toBeNull();
    expect(figures.table).toContain('Warm-up: one adapter trained on 4 question -> answer pairs of the dev split');
    const s = AdapterStore.open(join(out, 'adapters'));
    try {
      const warmupEntry = s.list({ id: WARMUP_ADAPTER_ID })[0];
      expect(warmupEntry.contentHash).toBe(figures.settings.warmup.sha256);
      const docs = s.list({ dataset: 'pubmedqa' }).filter((e) => 'id' in e.key && e.key.id !== WARMUP_ADAPTER_ID);
      expect(docs.length).toBeGreaterThan(0);
      for (const d of docs) expect(d.trainingConfig.warmup).toEqual({ key: warmupEntry.key, sha256: warmupEntry.contentHash });
    } finally {
      s.close();
    }
  }, 240_000);
});
