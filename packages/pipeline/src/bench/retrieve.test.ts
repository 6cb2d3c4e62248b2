import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RETRIEVE_BENCH_DEFAULTS, type RetrieveBenchOptions, retrieveBench } from './retrieve.js';
import { KS } from './retrieve-recall.js';

// Four abstracts of invented facts with no shared vocabulary: BM25 finds each question's own abstract first.
const PQAL: Record<string, [string, string]> = {
  '101': ['Who keeps the Varnholm lighthouse?', 'Edda Quist has kept the Varnholm Island lighthouse since 1998.'],
  '102': ['When is the Blue Turnip Festival held?', 'Every October Quenwick holds the Blue Turnip Festival by the Silvamoor river.'],
  '103': ['What colour does quorinium glow?', 'The element quorinium glows green when Halvard Menst heats it at Dunmere.'],
  '104': ['Which bird nests on Trellow cliffs?', 'Puffins nest every spring along the Trellow cliffs facing the cold northern sea.'],
};

const dir = mkdtempSync(join(tmpdir(), 'rg-bench-retrieve-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const input = join(dir, 'ori_pqal.json');
writeFileSync(
  input,
  JSON.stringify(
    Object.fromEntries(Object.entries(PQAL).map(([id, [q, text]]) => [id, { QUESTION: q, CONTEXTS: [text], final_decision: 'yes' }])),
  ),
);
// BM25 only: no model is loaded.
const options = (more: Partial<RetrieveBenchOptions> = {}): RetrieveBenchOptions => ({
  ...RETRIEVE_BENCH_DEFAULTS,
  input,
  backends: ['sqlite'],
  home: join(dir, 'home'),
  threads: 1,
  ...more,
});

/** Shares in [0, 1], every k reported, and never fewer hits in a larger top k. */
function expectRecall(recall: Record<string, number>): void {
  expect(Object.keys(recall)).toEqual(KS.map((k) => `@${k}`));
  for (const v of Object.values(recall)) {
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(1);
  }
  expect(recall['@1']).toBeLessThanOrEqual(recall['@3']);
  expect(recall['@3']).toBeLessThanOrEqual(recall['@10']);
}

describe('retrieveBench', () => {
  it('measures ingest, recall@k and latency over every question, and the tagged index beside the plain one', async () => {
    const lines: string[] = [];
    const r = await retrieveBench(options({ tags: true }), (l) => lines.push(l));
    // The order rg bench retrieve has always printed.
    expect(Object.keys(r)).toEqual(['corpus', 'ingest', 'backends', 'tags', 'peer', 'scaling', 'annScaling']);
    expect(r.corpus).toMatchObject({ dataset: 'pubmedqa', split: 'all', file: input, documents: 4, questions: 4 });
    expect(r.ingest.documents).toBe(4);
    expect(r.ingest.runsDocsPerSecond).toHaveLength(3);
    expect(Object.keys(r.backends)).toEqual(['sqlite', 'sqlite+tags']);
    for (const b of Object.values(r.backends)) {
      expectRecall(b.recall);
      expect(b.latencyMs.n).toBe(4);
      expect(b.latencyMs.p50).toBeLessThanOrEqual(b.latencyMs.p99);
    }
    const plain = r.backends.sqlite;
    expect(plain.recall['@1']).toBe(1);
    expect(plain.indexSeconds).toBeGreaterThan(0);
    expect(plain.indexDocsPerSecond).toBeCloseTo(4 / plain.indexSeconds, 6);
    expect(r.tags).toMatchObject({ documentsWithFields: 4, fieldWeights: { text: 1, title: 1 } });
    expect(r.tags?.recallGain.sqlite['@1']).toBeCloseTo(r.backends['sqlite+tags'].recall['@1'] - plain.recall['@1'], 10);
    expect(r.peer).toEqual({ skipped: '--no-peer' });
    expect(r.scaling).toBeUndefined();
    expect(lines).toContain('bench retrieve: querying sqlite+tags');
  });

  it('adds the requested number of generated passages in the scaling run, and skips a peer that is not installed', async () => {
    const peer = { python: join(dir, 'no-python'), script: join(dir, 'no-script.py') };
    const r = await retrieveBench(options({ scale: 30, peer }));
    expect(r.scaling).toHaveLength(1);
    const [row] = r.scaling ?? [];
    expect(row).toMatchObject({ generatedPassages: 30, documents: 34, queries: 4 });
    expect(row.latencyMs.n).toBe(4);
    // On four abstracts' vocabulary every generated passage holds the question words: only the range is certain.
    expectRecall(row.recall);
    expect(r.peer.skipped).toMatch(/^needs .*no-python and .*no-script\.py/);
  });
});
