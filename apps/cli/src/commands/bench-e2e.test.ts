import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ManifestEntry } from '@rg/adapter-store';
import type { Metrics } from '@rg/inference';
import { describe, expect, it } from 'vitest';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';
import { type Column, clusterKList, columnCosts, markdownTable } from './bench-e2e.js';

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
    const rg = costs(10, 1234, 12.345);
    const columns: Column[] = [
      { title: 'base', method: 'wo_param', metrics: metrics(0.25, 100) },
      { title: 'DAPT', method: 'dapt', metrics: metrics(0.5, 110), costs: costs(1, 1234, 30) },
      { title: 'RAG', method: 'icl', metrics: metrics(0.75, 300) },
      { title: 'RG', method: 'cat_all_one', metrics: metrics(0.5, 120), costs: rg },
      { title: 'RG+RAG', method: 'combine', metrics: metrics(1, 320), costs: rg },
      { title: 'cluster k=2', method: 'cluster', k: 2, metrics: metrics(0.5, 115), costs: costs(2, 1234, 4) },
      { title: 'cluster k=50', method: 'cluster', k: 50, why: 'k=50 exceeds the 10 documents to cluster' },
    ];
    const untimed = markdownTable('m', [{ ...columns[1], costs: costs(1, 1234, null) }], {
      questions: 4,
      documents: 10,
      representatives: 3,
      clusterTop: 1,
    });
    expect(untimed).toContain('| DAPT | 1 | 1234 | 1234 | n/a | 110 |');
    expect(untimed).toContain('encode s/doc of DAPT: n/a, some adapters were stored before rg recorded training time');
    const table = markdownTable('smollm2', columns, { questions: 4, documents: 10, representatives: 3, clusterTop: 1, oracle: 0.75 });
    const lines = table.split('\n');
    expect(lines[0]).toBe('| model | base | DAPT | RAG | RG | RG+RAG | cluster k=2 | cluster k=50 |');
    expect(lines[2]).toBe('| smollm2 | 0.250 | 0.500 | 0.750 | 0.500 | 1.000 | 0.500 | n/a |');
    expect(lines[4]).toBe('| column | adapters | bytes/adapter | bytes stored | encode s/doc | latency ms/question |');
    expect(lines.slice(6, 13)).toEqual([
      '| base | - | - | - | - | 100 |',
      '| DAPT | 1 | 1234 | 1234 | 3.00 | 110 |',
      '| RAG | - | - | - | - | 300 |',
      '| RG | 10 | 1234 | 12340 | 12.35 | 120 |',
      '| RG+RAG | 10 | 1234 | 12340 | 12.35 | 320 |',
      '| cluster k=2 | 2 | 1234 | 2468 | 0.80 | 115 |',
      '| cluster k=50 | - | - | - | - | n/a |',
    ]);
    const note = lines.at(-1);
    expect(note).toContain('accuracy on 4 questions.');
    expect(note).toContain('3 representatives per cluster of the same documents, answering with the top 1 cluster(s)');
    expect(note).toContain('cluster k=50: n/a because k=50 exceeds the 10 documents to cluster.');
    expect(note).toContain("oracle (gold documents' adapters): 0.750.");
  });

  it('reads --cluster-k as distinct positive k values, or none', () => {
    expect(clusterKList('10, 50,100,10')).toEqual([10, 50, 100]);
    expect(clusterKList('none')).toEqual([]);
    for (const bad of ['0', '10,', 'x', '']) expect(() => clusterKList(bad)).toThrow('expected comma-separated positive integers');
  });

  it('needs a corpus for a jsonl dataset and rejects unknown datasets and bad k lists', async () => {
    const r = await runCli(['bench', 'e2e', '--dataset', 'squad', '--sample', '5'], { env: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown dataset');
    const k = await runCli(['bench', 'e2e', '--dataset', 'popqa', '--sample', '5', '--cluster-k', '10,x'], { env: {} });
    expect(k.code).toBe(2);
    expect(k.stderr).toContain('expected comma-separated positive integers');
  });
});

const DEMO = resolve(import.meta.dirname, '../../demo');

// The wiring of every step, on a tiny random model (its scores are noise) and the real sentence encoder for k-means.
describe('rg bench e2e on a tiny model (two questions, a few demo documents)', () => {
  it('fills every column (DAPT, clusters per k, n/a where k exceeds the documents) and skips finished work when run again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-e2e-'));
    const lines = readFileSync(join(DEMO, 'corpus.jsonl'), 'utf8').trim().split('\n').slice(0, 4);
    const ids = lines.map((l) => JSON.parse(l).id as string);
    writeFileSync(join(dir, 'corpus.jsonl'), `${lines.join('\n')}\n`);
    const questions = readFileSync(join(DEMO, 'questions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .filter((l) => ids.includes(JSON.parse(l).gold_doc_ids[0]));
    writeFileSync(join(dir, 'questions.jsonl'), `${questions.join('\n')}\n`);
    const out = join(dir, 'out');
    const model = writeTinyModel(join(dir, 'tiny-llama'));
    const args = [
      '--model',
      model,
      'bench',
      'e2e',
      '--dataset',
      `jsonl:${join(dir, 'questions.jsonl')}`,
      '--corpus',
      join(dir, 'corpus.jsonl'),
    ];
    args.push('--sample', '2', '--seed', '1', '--topk', '1', '--qa', '2', '--lr', '1e-3', '--cluster-k', '1,2,9', '--representatives', '1');
    args.push('--out', out, '--json');
    const env = { RG_THREADS: '2' };

    const first = await runCli(args, { env });
    expect(first.code, first.stderr).toBe(0);
    const figures = JSON.parse(first.stdout);
    expect(figures.columns.map((c: { title: string }) => c.title)).toEqual([
      'base',
      'DAPT',
      'RAG',
      'RG',
      'RG+RAG',
      'cluster k=1',
      'cluster k=2',
      'cluster k=9',
    ]);
    // The document vectors are computed for the first k and reused by the next.
    expect(first.stderr.match(/embedded \d+ documents/g)).toHaveLength(1);
    const column = (title: string) => figures.columns.find((c: { title: string }) => c.title === title);
    const documents = readFileSync(join(out, 'encode-docs.jsonl'), 'utf8').trim().split('\n').length;
    expect(column('RG').costs).toMatchObject({ adapters: documents, documents });
    expect(column('RG').costs.encodeSecondsPerDocument).toBeGreaterThan(0);
    expect(column('DAPT').costs).toMatchObject({ adapters: 1, documents });
    expect(column('cluster k=1').costs).toMatchObject({ adapters: 1, documents });
    expect(column('cluster k=2').costs).toMatchObject({ adapters: 2, documents });
    expect(column('cluster k=9')).toMatchObject({ score: null, costs: null, why: `k=9 exceeds the ${documents} documents to cluster` });
    for (const title of ['base', 'DAPT', 'RAG', 'RG', 'RG+RAG', 'cluster k=1', 'cluster k=2']) {
      expect(column(title).metrics.n).toBe(2);
      expect(column(title).latencyMsPerQuestion).toBeGreaterThan(0);
    }
    // What each column applied: the DAPT adapter for every question, the only cluster's adapter for k=1.
    const runs = join(out, 'output', 'tiny-llama', 'rank=2_alpha=32', 'questions', 'lr=0.001_epoch=1');
    const dapt = JSON.parse(readFileSync(join(runs, 'dapt', 'predict.json'), 'utf8'));
    expect(dapt.map((p: { adapters: string[] }) => p.adapters)).toEqual([['dapt'], ['dapt']]);
    const clusterRuns = join(out, 'output', 'cluster-k=1', 'tiny-llama', 'rank=2_alpha=32', 'questions', 'lr=0.001_epoch=1');
    const cluster = JSON.parse(readFileSync(join(clusterRuns, 'cluster', 'predict.json'), 'utf8'));
    expect(cluster.map((p: { adapters: string[] }) => p.adapters)).toEqual([['cluster-k1-0'], ['cluster-k1-0']]);
    const table = readFileSync(join(out, 'table.md'), 'utf8');
    expect(table).toContain('| model | base | DAPT | RAG | RG | RG+RAG | cluster k=1 | cluster k=2 | cluster k=9 |');
    expect(table).toContain('| tiny-llama | ');

    const again = await runCli(args, { env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`encoded 0, skipped ${documents} (already stored)`);
    expect(again.stderr).toContain(`DAPT adapter already stored for these ${documents} passages`);
    expect(again.stderr).toContain('cluster adapters for k=1: trained 0, skipped 1');
    expect(again.stderr).toContain('cluster adapters for k=2: trained 0, skipped 2');
    const second = JSON.parse(again.stdout);
    expect(second.columns.map((c: { score: number | null }) => c.score)).toEqual(
      figures.columns.map((c: { score: number | null }) => c.score),
    );
    expect(second.columns.map((c: { costs: unknown }) => c.costs)).toEqual(figures.columns.map((c: { costs: unknown }) => c.costs));
    // Seconds on an idle machine; the long timeout is for a shared one.
  }, 600_000);
});
