import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SqliteBm25Retriever } from '@rg/retriever';
import { describe, expect, it } from 'vitest';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';

const DEMO = resolve(import.meta.dirname, '../../demo');

// The wiring of --tags on a tiny random model (its answers are noise): what is indexed and where answers go.
describe('rg bench e2e --tags', () => {
  it('augments the whole corpus with the template, indexes its tags and descriptions, answers into output-tags/', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-e2e-tags-'));
    const lines = readFileSync(join(DEMO, 'corpus.jsonl'), 'utf8').trim().split('\n').slice(0, 3);
    const ids = lines.map((l) => JSON.parse(l).id as string);
    writeFileSync(join(dir, 'corpus.jsonl'), `${lines.join('\n')}\n`);
    const questions = readFileSync(join(DEMO, 'questions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .filter((l) => ids.includes(JSON.parse(l).gold_doc_ids[0]));
    writeFileSync(join(dir, 'questions.jsonl'), `${questions.join('\n')}\n`);
    const out = join(dir, 'out');
    const args = ['--model', writeTinyModel(join(dir, 'tiny-llama')), 'bench', 'e2e', '--dataset', `jsonl:${join(dir, 'questions.jsonl')}`];
    args.push('--corpus', join(dir, 'corpus.jsonl'), '--sample', '2', '--topk', '2', '--cluster-k', 'none', '--no-dapt');
    args.push('--tags', '--out', out, '--json');

    const r = await runCli(args, { env: { RG_THREADS: '2' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('augment the whole corpus for index tags (template)');
    expect(r.stderr).toContain('index it for BM25 with tags and descriptions');
    const tagged = readFileSync(join(out, 'corpus-tags.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(tagged.map((t) => t.passageId).sort()).toEqual([...ids].sort());
    expect(tagged.every((t) => t.generator === 'template' && t.tags.length > 0)).toBe(true);
    // The corpus index holds the tags: a copy searched on the tags field alone finds a document by its first tag.
    const copy = join(dir, 'bm25-copy.sqlite');
    for (const suffix of ['', '-wal'])
      if (existsSync(join(out, 'corpus', 'index', `bm25.sqlite${suffix}`)))
        copyFileSync(join(out, 'corpus', 'index', `bm25.sqlite${suffix}`), `${copy}${suffix}`);
    const tagsOnly = new SqliteBm25Retriever(copy, { fieldWeights: { text: 0, title: 0, description: 0, tags: 1 } });
    const hits = await tagsOnly.search(tagged[0].tags[0], { k: 3 });
    await tagsOnly.close();
    expect(hits.map((h) => h.id)).toContain(tagged[0].passageId);
    const figures = JSON.parse(r.stdout);
    expect(figures.settings.tags).toBe(true);
    expect(existsSync(join(out, 'output-tags', 'tiny-llama'))).toBe(true);
    expect(existsSync(join(out, 'output'))).toBe(false);
  }, 600_000);
});
