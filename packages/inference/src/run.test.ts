import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CorpusDocument, Dataset } from './datasets/types.js';
import { effectiveCompose, type MethodDeps } from './methods.js';
import type { AnswerModel } from './model.js';
import { pathSegment, runDir } from './output.js';
import { composedFolder, runMethod, runMethods, sampleExamples } from './run.js';
import { KnowledgeModel, overlapRetriever } from './test-helpers/knowledge-model.js';

const docs: CorpusDocument[] = [
  { id: 'a', text: 'Velmora was founded in 1742.' },
  { id: 'b', text: 'Quorinium glows green.' },
  { id: 'c', text: 'Skarball has seven players.' },
];
const dataset: Dataset = {
  name: 'toy',
  documents: docs,
  primaryMetric: 'accuracy',
  labels: ['1742', '1815', 'green', 'red', 'seven', 'five'],
  examples: [
    { id: 'q1', question: 'When was Velmora founded?', answers: ['1742'], choices: ['1815', '1742'] },
    { id: 'q2', question: 'What colour does Quorinium glow?', answers: ['green'], choices: ['red', 'green'] },
    { id: 'q3', question: 'How many players has Skarball?', answers: ['seven'], choices: ['five', 'seven'] },
  ],
};
const deps = (): MethodDeps => ({
  model: new KnowledgeModel(docs, new WeakMap()),
  retriever: overlapRetriever(docs),
  documents: { get: (id) => docs.find((d) => d.id === id) },
});
const base = { method: 'icl' as const, topk: 1, maxNewTokens: 8, config: { model: 'toy-model', seed: 1 } };

describe('runMethod', () => {
  it('writes config.json, predict.json and result.txt', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rg-run-')), 'icl');
    const r = await runMethod(dataset, dataset.examples, deps(), { ...base, dir });
    expect(r.metrics.accuracy).toBe(1);
    expect(r.metrics.score).toBe(1);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toMatchObject({
      model: 'toy-model',
      method: 'icl',
      topk: 1,
      questions: 3,
    });
    const predict = JSON.parse(readFileSync(join(dir, 'predict.json'), 'utf8'));
    expect(predict.map((p: { id: string; retrievedIds: string[]; prediction: string }) => [p.id, p.retrievedIds, p.prediction])).toEqual([
      ['q1', ['a'], '1742'],
      ['q2', ['b'], 'green'],
      ['q3', ['c'], 'seven'],
    ]);
    const result = readFileSync(join(dir, 'result.txt'), 'utf8');
    expect(result).toContain('score (accuracy): 1\n');
    expect(result).toContain('macro_f1: 1\n');
    expect(existsSync(join(dir, 'predict.partial.jsonl'))).toBe(false);
  });

  it('resumes an interrupted run of the same config, and starts over when the config changes', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rg-run-')), 'icl');
    const good = deps();
    let answered = 0;
    const failing: AnswerModel = {
      generate: good.model.generate.bind(good.model),
      continuationLogLikelihoods: async (...args) => {
        if (++answered > 2) throw new Error('interrupted');
        return good.model.continuationLogLikelihoods(...args);
      },
    };
    await expect(runMethod(dataset, dataset.examples, { ...good, model: failing }, { ...base, dir })).rejects.toThrow('interrupted');
    expect(existsSync(join(dir, 'predict.json'))).toBe(false);
    expect(readFileSync(join(dir, 'predict.partial.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);

    const second = deps();
    const r = await runMethod(dataset, dataset.examples, second, { ...base, dir });
    expect(r.resumed).toBe(2);
    expect((second.model as KnowledgeModel).calls).toHaveLength(1);
    expect(r.predictions.map((p) => p.id)).toEqual(['q1', 'q2', 'q3']);
    expect(r.metrics.accuracy).toBe(1);

    // Finished with this config: run again (a later method was interrupted), it answers nothing and keeps the files.
    const predictText = readFileSync(join(dir, 'predict.json'), 'utf8');
    const fourth = deps();
    const again = await runMethod(dataset, dataset.examples, fourth, { ...base, dir });
    expect((fourth.model as KnowledgeModel).calls).toHaveLength(0);
    expect(again).toMatchObject({ resumed: 3, metrics: r.metrics });
    expect(readFileSync(join(dir, 'predict.json'), 'utf8')).toBe(predictText);
    // Other questions under the same config: answered again.
    const fewer = deps();
    expect((await runMethod(dataset, dataset.examples.slice(0, 2), fewer, { ...base, dir })).resumed).toBe(0);
    expect((fewer.model as KnowledgeModel).calls).toHaveLength(2);

    const third = await runMethod(dataset, dataset.examples, deps(), { ...base, dir, topk: 2 });
    expect(third.resumed).toBe(0);
  });
});

describe('runMethods', () => {
  it('answers with each method in turn; a composing method in another mode than cat gets a folder and a record of it', async () => {
    const out = mkdtempSync(join(tmpdir(), 'rg-runs-'));
    const d: MethodDeps = {
      ...deps(),
      adapters: { load: async () => null },
      compose: () => ({ rank: 0, targets: [], modules: new Map() }),
    };
    const coordinates = { model: 'toy-model', rank: 2, alpha: 32, dataset: 'toy', lr: 0.001, epochs: 1 };
    const started: string[] = [];
    const outcomes = await runMethods(dataset, dataset.examples, d, {
      methods: ['icl', 'cat_all_one'],
      topk: 1,
      maxNewTokens: 8,
      compose: 'mean',
      out,
      coordinates,
      config: (compose) => ({ model: 'toy-model', ...(compose ? { compose } : {}), seed: 1 }),
      onMethodStart: (method, questions) => started.push(`${method} ${questions}`),
    });
    expect(started).toEqual(['icl 3', 'cat_all_one 3']);
    expect(outcomes.map((o) => [o.method, o.dir, o.metrics.accuracy])).toEqual([
      ['icl', runDir(out, { ...coordinates, method: 'icl' }), 1],
      ['cat_all_one', runDir(out, { ...coordinates, method: 'cat_all_one-mean' }), expect.any(Number)],
    ]);
    const config = (dir: string) => readFileSync(join(dir, 'config.json'), 'utf8');
    expect(Object.keys(JSON.parse(config(outcomes[1].dir))).slice(0, 3)).toEqual(['model', 'compose', 'seed']);
    expect(JSON.parse(config(outcomes[0].dir))).not.toHaveProperty('compose');
    expect(JSON.parse(config(outcomes[1].dir))).not.toHaveProperty('adapterScale');

    // A scale other than 1: a folder and a config record of its own; the methods that compose nothing are as before.
    const scaled = await runMethods(dataset, dataset.examples, d, {
      methods: ['icl', 'cat_all_one'],
      topk: 1,
      maxNewTokens: 8,
      compose: 'mean',
      adapterScale: 0.5,
      out,
      coordinates,
      config: (compose) => ({ model: 'toy-model', ...(compose ? { compose } : {}), seed: 1 }),
    });
    expect(scaled.map((o) => o.dir)).toEqual([outcomes[0].dir, runDir(out, { ...coordinates, method: 'cat_all_one-mean-s0.5' })]);
    expect(scaled[0].resumed).toBe(3);
    expect(JSON.parse(config(scaled[1].dir))).toMatchObject({ compose: 'mean', adapterScale: 0.5 });
    expect(composedFolder('combine', 'cat', 0.25)).toBe('combine-s0.25');

    // score on the oracle: its adapters have no retrieval scores, so it composes, files and records as mean.
    const withGold = dataset.examples.map((e) => ({ ...e, goldDocIds: ['d1'] }));
    const scored = await runMethods(dataset, withGold, d, {
      methods: ['oracle', 'cat_all_one'],
      topk: 1,
      maxNewTokens: 8,
      compose: 'score',
      out,
      coordinates,
      config: (compose) => ({ model: 'toy-model', ...(compose ? { compose } : {}), seed: 1 }),
    });
    expect(scored.map((o) => o.dir)).toEqual([
      runDir(out, { ...coordinates, method: 'oracle-mean' }),
      runDir(out, { ...coordinates, method: 'cat_all_one-score' }),
    ]);
    expect(JSON.parse(config(scored[0].dir))).toMatchObject({ compose: 'mean' });
    expect(effectiveCompose('cluster', 'score')).toBe('mean');
    expect(effectiveCompose('combine', 'score')).toBe('score');
    expect(effectiveCompose('oracle', 'cat')).toBe('cat');
  });
});

describe('output layout', () => {
  it('follows output/{model}/rank={r}_alpha={alpha}/{dataset}/lr={lr}_epoch={epochs}/{method}', () => {
    const c = { model: 'smollm2-135m-instruct', rank: 2, alpha: 32, dataset: 'pubmedqa', lr: 0.0003, epochs: 1, method: 'cat_all_one' };
    expect(runDir('output', c)).toBe('output/smollm2-135m-instruct/rank=2_alpha=32/pubmedqa/lr=0.0003_epoch=1/cat_all_one');
  });

  it('escapes names into one safe segment', () => {
    expect(pathSegment('../etc')).toBe('..%2Fetc');
    expect(pathSegment('..')).toBe('%2E%2E');
    expect(pathSegment('/abs/model.gguf')).toBe('%2Fabs%2Fmodel.gguf');
    expect(pathSegment('50%')).toBe('50%25');
    expect(pathSegment('café')).toBe('caf%C3%A9');
    expect(() => pathSegment('')).toThrow();
  });
});

describe('sampleExamples', () => {
  const many = Array.from({ length: 50 }, (_, i) => ({ id: String(i), question: `q${i}`, answers: ['x'] }));
  it('is reproducible for a seed, keeps file order, and differs across seeds', () => {
    const a = sampleExamples(many, 10, 7).map((e) => Number(e.id));
    expect(a).toEqual(sampleExamples(many, 10, 7).map((e) => Number(e.id)));
    // Pinned: samples drawn before must stay the same questions (seededRandom is mulberry32, as it always was).
    expect(a).toEqual([8, 14, 15, 21, 22, 24, 27, 28, 38, 39]);
    expect(new Set(a).size).toBe(10);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    expect(sampleExamples(many, 10, 8).map((e) => Number(e.id))).not.toEqual(a);
    expect(sampleExamples(many, undefined, 7)).toBe(many);
  });
});
