import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

const DATA = join(import.meta.dirname, '../../../../../shared/data');
// The shared datasets sit beside the project root; a user's fresh clone does not have them.
const hasData = existsSync(join(DATA, 'pubmedqa/ori_pqal.json'));
if (!hasData) console.warn(`skipping the PubMedQA command tests: ${DATA} is absent (see each dataset's SOURCE.md)`);

describe('rg bench retrieve', () => {
  it.skipIf(!hasData)('prints recall and latency for BM25 on PubMedQA PQA-L as one JSON line', async () => {
    const r = await runCli([
      'bench',
      'retrieve',
      '--backends',
      'sqlite',
      '--no-peer',
      '--json',
      '--input',
      join(DATA, 'pubmedqa/ori_pqal.json'),
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.corpus).toMatchObject({ documents: 1000, questions: 1000 });
    expect(out.backends.sqlite.recall['@3']).toBeGreaterThanOrEqual(0.9);
    expect(out.backends.sqlite.recall['@10']).toBeGreaterThanOrEqual(out.backends.sqlite.recall['@1']);
    const latency = out.backends.sqlite.latencyMs;
    expect(latency.n).toBe(1000);
    expect(latency.p99).toBeGreaterThanOrEqual(latency.p95);
    expect(latency.p95).toBeGreaterThanOrEqual(latency.p50);
    expect(out.peer).toEqual({ skipped: '--no-peer' });
  });

  it.skipIf(!existsSync(join(DATA, 'popqa/popqa.json')))(
    'PopQA dev with --tags: the same questions with and without tags, and the gain between them',
    async () => {
      const r = await runCli([
        'bench',
        'retrieve',
        '--dataset',
        'popqa',
        '--split',
        'dev',
        '--data-dir',
        DATA,
        '--backends',
        'sqlite',
        '--tags',
        '--field-weights',
        'tags=0.8',
        '--no-peer',
        '--json',
      ]);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.corpus).toMatchObject({ dataset: 'popqa', split: 'dev', questions: 500 });
      const plain = out.backends.sqlite.recall;
      const tagged = out.backends['sqlite+tags'].recall;
      expect(plain['@3']).toBeGreaterThanOrEqual(0.9);
      expect(tagged['@3']).toBeGreaterThanOrEqual(0.9);
      expect(out.tags).toMatchObject({
        documentsWithFields: out.corpus.documents,
        fieldWeights: { text: 1, title: 1, tags: 0.8, description: 0.5 },
      });
      // The template augmenter's own tags, or (a passage it made none for) the same rules via retrievalFields.
      expect(out.tags.tagsFromGenerator + out.tags.tagsFromTemplate).toBe(out.corpus.documents);
      expect(out.tags.documentsWithTags).toBeGreaterThan(0.99 * out.corpus.documents);
      expect(out.tags.meanTagsPerDocument).toBeGreaterThan(1);
      expect(out.tags.recallGain.sqlite['@1']).toBeCloseTo(tagged['@1'] - plain['@1'], 10);
      expect(out.peer).toEqual({ skipped: '--no-peer' });
    },
  );

  // The refusals come before the file is read: any existing file will do, so these run without the shared data too.
  const anyInput = () => {
    const file = join(mkdtempSync(join(tmpdir(), 'rg-bench-retrieve-')), 'ori_pqal.json');
    writeFileSync(file, '{}');
    return file;
  };

  it('refuses tag options without --tags, and --tags without a backend that indexes tags', async () => {
    const input = anyInput();
    const noTags = await runCli(['bench', 'retrieve', '--input', input, '--field-weights', 'tags=1']);
    expect(noTags.code).toBe(2);
    expect(noTags.stderr).toMatch(/--augmented and --field-weights apply with --tags only/);
    const dense = await runCli(['bench', 'retrieve', '--input', input, '--backends', 'dense', '--tags']);
    expect(dense.code).toBe(2);
    expect(dense.stderr).toMatch(/--tags measures sqlite or hybrid: add one to --backends/);
  });

  it('rejects a backend that is not embedded', async () => {
    const r = await runCli(['bench', 'retrieve', '--backends', 'qdrant', '--input', anyInput()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown embedded backend "qdrant"/);
  });
});
