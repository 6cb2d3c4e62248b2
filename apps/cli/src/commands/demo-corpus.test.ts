import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadJsonlCorpus, loadJsonlQa } from '@rg/inference';
import { commitBuild, openRetriever } from '@rg/retriever';
import { describe, expect, it } from 'vitest';

const DEMO = resolve(import.meta.dirname, '../../demo');
const docs = loadJsonlCorpus(join(DEMO, 'corpus.jsonl'));
const questions = loadJsonlQa(join(DEMO, 'questions.jsonl'), 'demo');

describe('the shipped demo corpus', () => {
  it('has one gold document per question, holding the answer; choices are scored as labels', () => {
    expect(docs.length).toBeGreaterThanOrEqual(8);
    expect(questions.primaryMetric).toBe('accuracy');
    const byId = new Map(docs.map((d) => [d.id, d]));
    for (const q of questions.examples) {
      expect(q.goldDocIds, q.id).toHaveLength(1);
      const gold = byId.get(q.goldDocIds![0]);
      expect(gold, q.id).toBeDefined();
      expect(gold!.text, q.id).toContain(q.answers[0].replace(/^the /, ''));
      expect(q.choices, q.id).toHaveLength(4);
    }
  });

  it('no distractor appears in any document, so only the gold fact can support a choice', () => {
    const all = docs.map((d) => d.text.toLowerCase()).join(' ');
    for (const q of questions.examples) {
      for (const c of q.choices!.filter((c) => c !== q.answers[0])) {
        const word = new RegExp(
          `\\b${c
            .toLowerCase()
            .replace(/^the /, '')
            .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`,
        );
        expect(word.test(all), `${q.id}: distractor "${c}"`).toBe(false);
      }
    }
  });

  it('BM25 ranks the gold document first for every question', async () => {
    const storeDir = mkdtempSync(join(tmpdir(), 'rg-demo-bm25-'));
    const build = await openRetriever('sqlite', { storeDir, build: true });
    await build.add(docs);
    await build.close();
    commitBuild(storeDir, 'sqlite');
    const retriever = await openRetriever('sqlite', { storeDir });
    try {
      for (const q of questions.examples) {
        const [top] = await retriever.search(q.question, { k: 1 });
        expect(top?.id, q.id).toBe(q.goldDocIds![0]);
      }
    } finally {
      await retriever.close();
    }
  });
});
