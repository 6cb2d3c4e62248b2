import type { ManifestEntry } from '@rg/adapter-store';
import { bootstrapMean, type Metrics, type Prediction, pairedBootstrapDifference } from '@rg/inference';
import { describe, expect, it } from 'vitest';
import { type Column, columnCosts, columnsChart, markdownTable, questionScores, retrievalHits, withIntervals } from './e2e-table.js';

const metrics = (score: number, latency: number): Metrics => ({
  n: 4,
  score,
  primaryMetric: 'accuracy',
  em: 0,
  f1: 0,
  contains: 0,
  meanLatencyMs: latency,
  missingAdapters: 0,
});
const costs = (adapters: number, bytes: number, seconds: number | null, documents = 10) =>
  columnCosts(
    Array.from({ length: adapters }, () => ({ bytes, trainingConfig: seconds === null ? {} : { trainSeconds: seconds } }) as ManifestEntry),
    documents,
  );

// Four questions; each column's scores average to its metrics' score.
function sampleColumns(): Column[] {
  const rg = costs(10, 1234, 12.345);
  return [
    { title: 'base', method: 'wo_param', metrics: metrics(0.25, 100), scores: [1, 0, 0, 0] },
    { title: 'DAPT', method: 'dapt', metrics: metrics(0.5, 110), scores: [1, 1, 0, 0], costs: costs(1, 1234, 30) },
    { title: 'RAG', method: 'icl', metrics: metrics(0.75, 300), scores: [1, 1, 1, 0] },
    { title: 'RG', method: 'cat_all_one', metrics: metrics(0.5, 120), scores: [1, 0, 1, 0], costs: rg },
    { title: 'RG+RAG', method: 'combine', metrics: metrics(1, 320), scores: [1, 1, 1, 1], costs: rg },
    { title: 'cluster k=2', method: 'cluster', k: 2, metrics: metrics(0.5, 115), scores: [0, 1, 0, 1], costs: costs(2, 1234, 4) },
    { title: 'cluster k=50', method: 'cluster', k: 50, why: 'k=50 exceeds the 10 documents to cluster' },
  ];
}

describe('rg bench e2e table', () => {
  it('adds up the adapters of a column, and has no encode time when one adapter did not record it', () => {
    expect(costs(4, 100, 2.5)).toEqual({
      adapters: 4,
      bytesStored: 400,
      bytesPerAdapter: 100,
      trainSeconds: 10,
      documents: 10,
      encodeSecondsPerDocument: 1,
    });
    const mixed = columnCosts(
      [{ bytes: 10, trainingConfig: { trainSeconds: 1 } } as unknown as ManifestEntry, { bytes: 30, trainingConfig: {} } as ManifestEntry],
      2,
    );
    expect(mixed).toMatchObject({ adapters: 2, bytesPerAdapter: 20, trainSeconds: null, encodeSecondsPerDocument: null });
    expect(costs(0, 0, 1)).toMatchObject({ adapters: 0, bytesPerAdapter: null, trainSeconds: null });
  });

  it('lays the scores out as the published table, one cluster column per k, and the costs per column', () => {
    const columns = withIntervals(sampleColumns(), { seed: 1 });
    const untimed = markdownTable('m', [{ ...columns[1], costs: costs(1, 1234, null) }], {
      questions: 4,
      split: 'test',
      documents: 10,
      representatives: 3,
      clusterTop: 1,
    });
    expect(untimed).toContain('| DAPT | 1 | 1234 | 1234 | n/a | 110 |');
    expect(untimed).toContain('encode s/doc of DAPT: n/a, some adapters were stored before rg recorded training time');
    const oracle = { estimate: 0.75, low: 0.25, high: 1 };
    const table = markdownTable('smollm2', columns, {
      questions: 4,
      split: 'dev',
      documents: 10,
      representatives: 3,
      clusterTop: 1,
      oracle,
      bootstrap: { resamples: 2000, seed: 1 },
    });
    const lines = table.split('\n');
    expect(lines[0]).toBe('| model | base | DAPT | RAG | RG | RG+RAG | cluster k=2 | cluster k=50 |');
    expect(lines[2]).toBe('| smollm2 | 0.250 | 0.500 | 0.750 | 0.500 | 1.000 | 0.500 | n/a |');
    expect(lines[4]).toBe('| column | accuracy [95% interval] | minus base [95% interval] | minus RAG [95% interval] |');
    // Each cell is the interval the stats module gives for those scores (seed 1): the table only lays them out.
    const cell = (a: number[], b?: number[]) => {
      const iv = b ? pairedBootstrapDifference(a, b, { seed: 1 }) : bootstrapMean(a, { seed: 1 });
      const f = (v: number) => `${b && v >= 0 ? '+' : ''}${v.toFixed(3)}`;
      return `${f(iv.estimate)} [${f(iv.low)}, ${f(iv.high)}]`;
    };
    const s = Object.fromEntries(sampleColumns().map((c) => [c.title, c.scores]));
    expect(lines.slice(6, 13)).toEqual([
      `| base | ${cell(s.base!)} | - | ${cell(s.base!, s.RAG)} |`,
      `| DAPT | ${cell(s.DAPT!)} | ${cell(s.DAPT!, s.base)} | ${cell(s.DAPT!, s.RAG)} |`,
      `| RAG | ${cell(s.RAG!)} | ${cell(s.RAG!, s.base)} | - |`,
      `| RG | ${cell(s.RG!)} | ${cell(s.RG!, s.base)} | ${cell(s.RG!, s.RAG)} |`,
      '| RG+RAG | 1.000 [1.000, 1.000] | +0.750 [+0.250, +1.000] | +0.250 [+0.000, +0.750] |',
      `| cluster k=2 | ${cell(s['cluster k=2']!)} | ${cell(s['cluster k=2']!, s.base)} | ${cell(s['cluster k=2']!, s.RAG)} |`,
      '| cluster k=50 | n/a | n/a | n/a |',
    ]);
    expect(lines[14]).toBe('| column | adapters | bytes/adapter | bytes stored | encode s/doc | latency ms/question |');
    expect(lines.slice(16, 23)).toEqual([
      '| base | - | - | - | - | 100 |',
      '| DAPT | 1 | 1234 | 1234 | 3.00 | 110 |',
      '| RAG | - | - | - | - | 300 |',
      '| RG | 10 | 1234 | 12340 | 12.35 | 120 |',
      '| RG+RAG | 10 | 1234 | 12340 | 12.35 | 320 |',
      '| cluster k=2 | 2 | 1234 | 2468 | 0.80 | 115 |',
      '| cluster k=50 | - | - | - | - | n/a |',
    ]);
    const note = lines.at(-1);
    expect(note).toContain('accuracy on 4 questions (split: dev).');
    expect(note).toContain('Intervals: percentile bootstrap over the 4 questions (2000 resamples, seed 1); differences are paired');
    expect(note).toContain('3 representatives per cluster of the same documents, answering with the top 1 cluster(s)');
    expect(note).toContain('cluster k=50: n/a because k=50 exceeds the 10 documents to cluster.');
    expect(note).toContain("oracle (gold documents' adapters): 0.750 [0.250, 1.000].");
    expect(note).not.toContain('Retrieval (top');
    // Without scores (a run that recorded none) there is no interval table, and the notes do not promise one.
    const plain = markdownTable(
      'm',
      sampleColumns().map(({ scores: _, ...c }) => c),
      {
        questions: 4,
        split: 'all',
        documents: 10,
        representatives: 3,
        clusterTop: 1,
      },
    );
    expect(plain).not.toContain('95% interval');
    expect(plain).not.toContain('Intervals:');
  });
  it('puts macro-F1 beside accuracy for a dataset with a closed label set, and says what it averages', () => {
    const f1 = [0.1, 0.2, 0.3, 0.25, 0.5, 0.125];
    const columns = withIntervals(
      sampleColumns().map((c, i) => (c.metrics ? { ...c, metrics: { ...c.metrics, accuracy: c.metrics.score, macroF1: f1[i] } } : c)),
      { seed: 1 },
    );
    const run = { questions: 4, split: 'test', documents: 10, representatives: 3, clusterTop: 1, bootstrap: { resamples: 2000, seed: 1 } };
    const lines = markdownTable('smollm2', columns, run).split('\n');
    expect(lines.slice(0, 4)).toEqual([
      '| model | base | DAPT | RAG | RG | RG+RAG | cluster k=2 | cluster k=50 |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      '| smollm2 (accuracy) | 0.250 | 0.500 | 0.750 | 0.500 | 1.000 | 0.500 | n/a |',
      '| smollm2 (macro-F1) | 0.100 | 0.200 | 0.300 | 0.250 | 0.500 | 0.125 | n/a |',
    ]);
    expect(lines[5]).toBe('| column | accuracy [95% interval] | macro-F1 | minus base [95% interval] | minus RAG [95% interval] |');
    expect(lines[6]).toBe('| --- | --- | --- | --- | --- |');
    expect(lines[7]).toMatch(/^\| base \| 0\.250 \[[^\]]+\] \| 0\.100 \| - \| [-+]0\.500 \[/);
    expect(lines[10]).toMatch(/^\| RG \| 0\.500 \[[^\]]+\] \| 0\.250 \| [-+]/);
    expect(lines[13]).toBe('| cluster k=50 | n/a | n/a | n/a | n/a |');
    expect(lines.at(-1)).toContain('macro-F1: the mean over the labels of each label’s F1');
    // A dataset without a label set (PopQA, free answers) keeps the one-row table.
    expect(markdownTable('smollm2', withIntervals(sampleColumns(), { seed: 1 }), run)).not.toContain('macro-F1');
  });
});

describe('rg bench e2e intervals and chart', () => {
  const prediction = (id: string, score: number) => ({ id, score }) as Prediction;

  it('lines per-question scores up with the sampled questions by id', () => {
    const examples = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
    expect(questionScores(examples, [prediction('c', 0.5), prediction('a', 1), prediction('b', 0)])).toEqual([1, 0, 0.5]);
    expect(() => questionScores(examples, [prediction('a', 1)])).toThrow('no prediction for question b');
  });

  it('gives every column with scores its interval and paired differences from base and RAG, not from itself', () => {
    const columns = withIntervals(sampleColumns(), { seed: 3 });
    const by = (title: string) => columns.find((c) => c.title === title)!;
    expect(by('base').stats).toEqual({
      interval: bootstrapMean([1, 0, 0, 0], { seed: 3 }),
      vsRag: pairedBootstrapDifference([1, 0, 0, 0], [1, 1, 1, 0], { seed: 3 }),
    });
    expect(by('RAG').stats?.vsRag).toBeUndefined();
    expect(by('RAG').stats?.vsBase?.estimate).toBeCloseTo(0.5, 12);
    expect(by('RG+RAG').stats?.vsBase).toEqual(pairedBootstrapDifference([1, 1, 1, 1], [1, 0, 0, 0], { seed: 3 }));
    expect(by('cluster k=50').stats).toBeUndefined();
    // No base column (e.g. it failed): no vsBase anywhere, the rest still has intervals.
    const noBase = withIntervals(sampleColumns().slice(1), { seed: 3 });
    expect(noBase.every((c) => c.stats?.vsBase === undefined)).toBe(true);
    expect(noBase[0].stats?.interval).toBeDefined();
  });

  it('with the warm-up: base + warm-up and RAG + warm-up are measured against the plain base and RAG, and the note says so', () => {
    const [base, dapt, rag, ...rest] = sampleColumns();
    const warmBase: Column = {
      title: 'base + warm-up',
      method: 'wo_param',
      warmup: true,
      metrics: metrics(0.5, 100),
      scores: [1, 1, 0, 0],
    };
    const warmRag: Column = { title: 'RAG + warm-up', method: 'icl', warmup: true, metrics: metrics(0.5, 300), scores: [1, 0, 1, 0] };
    const columns = withIntervals([base, warmBase, dapt, rag, warmRag, ...rest], { seed: 3 });
    const by = (title: string) => columns.find((c) => c.title === title)!;
    expect(by('base + warm-up').stats?.vsBase).toEqual(pairedBootstrapDifference([1, 1, 0, 0], [1, 0, 0, 0], { seed: 3 }));
    expect(by('RAG + warm-up').stats?.vsRag).toEqual(pairedBootstrapDifference([1, 0, 1, 0], [1, 1, 1, 0], { seed: 3 }));
    expect(by('base').stats?.vsBase).toBeUndefined();
    expect(by('RG').stats?.vsBase).toEqual(pairedBootstrapDifference([1, 0, 1, 0], [1, 0, 0, 0], { seed: 3 }));
    const table = markdownTable('m', columns, {
      questions: 4,
      split: 'dev',
      documents: 10,
      representatives: 3,
      clusterTop: 1,
      warmup: { split: 'dev', n: 600 },
    });
    const row = table.split('\n').find((l) => l.startsWith('| base + warm-up | 0.500'));
    expect(row).toContain('+0.250'); // minus base: a difference, not "-"
    expect(table).toContain('Warm-up: one adapter trained on 600 question -> answer pairs of the dev split');
  });

  it('charts every column: a dot per score, n/a with the reason, a dashed line at the base score', () => {
    const svg = columnsChart(withIntervals(sampleColumns(), { seed: 1 }), {
      model: 'smollm2',
      dataset: 'pubmedqa',
      split: 'test',
      questions: 4,
    });
    expect(svg.match(/<circle /g)).toHaveLength(6);
    expect(svg).toContain('<title id="chart-title">smollm2 on pubmedqa (4 questions, test split): accuracy</title>');
    expect(svg).toContain('>cluster k=50</text>');
    expect(svg).toContain('>n/a: k=50 exceeds the 10 documents to cluster</text>');
    expect(svg).toContain('>base</text>');
    expect(svg).toContain('stroke-dasharray="4 3"');
    expect(svg).toContain('>1.000 [1.000, 1.000]</text>');
  });
});

describe('retrievalHits', () => {
  const examples = [
    { id: 'a', goldDocIds: ['d1', 'd2'] },
    { id: 'b', goldDocIds: ['d3'] },
    { id: 'c', goldDocIds: ['d4'] },
    { id: 'd' },
    { id: 'e', goldDocIds: ['d5'] },
  ];
  const predictions = [
    { id: 'a', retrievedIds: ['d2', 'x', 'd1', 'd9'] },
    { id: 'b', retrievedIds: ['x', 'd3', 'y'] },
    { id: 'c', retrievedIds: ['x', 'y', 'z'] },
    { id: 'd', retrievedIds: ['d1'] },
  ];

  it('counts the questions with gold documents whose gold came among the top k, first, and all of them', () => {
    // 'd' names no gold and 'e' was not answered: neither counts. 'a' has both gold in the top 3, 'b' one not first.
    expect(retrievalHits(examples, predictions, 3)).toEqual({ k: 3, questions: 3, anyGoldInTopK: 2, goldAtRank1: 1, allGoldInTopK: 2 });
    // Only the first k retrieved count: at k = 1, 'a' has one of its two gold documents.
    expect(retrievalHits(examples, predictions, 1)).toEqual({ k: 1, questions: 3, anyGoldInTopK: 1, goldAtRank1: 1, allGoldInTopK: 0 });
    expect(retrievalHits([{ id: 'd' }], predictions, 3)).toBeUndefined();
  });

  it('is a line of the table notes', () => {
    const retrieval = retrievalHits(examples, predictions, 3);
    const table = markdownTable('m', withIntervals(sampleColumns(), { seed: 1 }), {
      questions: 4,
      split: 'dev',
      documents: 10,
      representatives: 3,
      clusterTop: 1,
      retrieval,
    });
    expect(table.split('\n').at(-1)).toContain(
      'Retrieval (top 3): a gold document among them for 2 of 3 (66.7%) questions, first for 1 of 3 (33.3%), every gold document among them for 2 of 3 (66.7%).',
    );
  });
});
