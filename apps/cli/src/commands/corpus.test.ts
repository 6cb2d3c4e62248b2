import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

const DATA = join(import.meta.dirname, '../../../../../shared/data');
// The shared datasets sit beside the project root; a user's fresh clone does not have them.
const hasData = existsSync(join(DATA, 'pubmedqa/ori_pqal.json'));
if (!hasData) console.warn(`skipping the PubMedQA command tests: ${DATA} is absent (see each dataset's SOURCE.md)`);

describe('rg corpus / index / retrieve', () => {
  it.skipIf(!hasData)('ingests PubMedQA, builds BM25, retrieves a question’s own abstract first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cli-corpus-'));
    const store = join(dir, 'store');
    const ing = await runCli(['corpus', 'ingest', '--input', join(DATA, 'pubmedqa/ori_pqal.json'), '--store', store, '--json']);
    expect(ing.stderr).toBe('');
    expect(ing.code).toBe(0);
    expect(JSON.parse(ing.stdout)).toMatchObject({ format: 'pubmedqa', records: 1000, added: 1000, documents: 1000 });

    const again = await runCli(['corpus', 'ingest', '--input', join(DATA, 'pubmedqa/ori_pqal.json'), '--store', store, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ added: 0, documents: 1000 });

    const before = await runCli(['retrieve', '--store', store, '--query', 'x']);
    expect(before.code).toBe(2);
    expect(before.stderr).toMatch(/no sqlite index .* run `rg index build/);

    const build = await runCli(['index', 'build', '--store', store, '--backend', 'sqlite', '--json']);
    expect(build.code).toBe(0);
    expect(JSON.parse(build.stdout)).toMatchObject({ backend: 'sqlite', documents: 1000 });

    const queries = join(dir, 'q.jsonl');
    writeFileSync(
      queries,
      `${JSON.stringify({ id: 'q1', question: 'Do mitochondria play a role in remodelling lace plant leaves during programmed cell death?' })}\n`,
    );
    const ret = await runCli(['retrieve', '--store', store, '--backend', 'sqlite', '--k', '3', '--queries', queries, '--json']);
    expect(ret.code).toBe(0);
    const line = JSON.parse(ret.stdout.trim());
    expect(line.queryId).toBe('q1');
    expect(line.docIds).toHaveLength(3);
    expect(line.docIds[0]).toBe('21645374');
    expect(line.scores[0]).toBeGreaterThanOrEqual(line.scores[1]);
    // The query as an argument, as a new user types it first: the same hits as --query.
    const question = 'Do mitochondria play a role in remodelling lace plant leaves during programmed cell death?';
    const positional = await runCli(['retrieve', '--store', store, '--k', '3', question, '--json']);
    expect(positional.code, positional.stderr).toBe(0);
    expect(JSON.parse(positional.stdout).docIds).toEqual(line.docIds);
    const twice = await runCli(['retrieve', '--store', store, question, '--query', question]);
    expect([twice.code, twice.stderr]).toEqual([2, 'rg: error: give the query once: as an argument or as --query\n']);

    const filtered = await runCli([
      'retrieve',
      '--store',
      store,
      '--k',
      '5',
      '--query',
      'programmed cell death',
      '--filter',
      'year=1990',
      '--json',
    ]);
    expect(JSON.parse(filtered.stdout).docIds).toEqual([]);

    const out = join(dir, 'small');
    const filter = await runCli([
      'corpus',
      'filter',
      '--store',
      store,
      '--questions',
      queries,
      '--per-question',
      '2',
      '--out',
      out,
      '--json',
    ]);
    expect(filter.code).toBe(0);
    expect(JSON.parse(filter.stdout)).toMatchObject({ questions: 1, kept: 2, documents: 2 });
  });

  it('reports bad lines on stderr with line numbers; --strict exits 2 at the first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cli-corpus-'));
    const file = join(dir, 'in.jsonl');
    writeFileSync(file, '{"id":"a","text":"ok"}\n{"id":"b"}\n');
    const r = await runCli(['corpus', 'ingest', '--input', file, '--store', join(dir, 's')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${file}:2: skipped: no text field`);
    expect(r.stdout).toMatch(/2 records read: 1 added, 0 duplicates, 1 skipped/);
    const strict = await runCli(['corpus', 'ingest', '--input', file, '--store', join(dir, 's2'), '--strict']);
    expect(strict.code).toBe(2);
    expect(strict.stderr).toContain(`${file}:2: no text field`);
    // A file none of whose records can be read (the wrong one, or the wrong --format) fails after its summary.
    const wrong = join(dir, 'notes.txt');
    writeFileSync(wrong, 'first line\nsecond line\n');
    const none = await runCli(['corpus', 'ingest', '--input', wrong, '--store', join(dir, 's4')]);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/2 records read: 0 added, 0 duplicates, 2 skipped/);
    expect(none.stderr).toContain(`rg: error: --input ${wrong}: none of its 2 records could be read (line 1: broken JSON`);
    const missing = await runCli(['corpus', 'ingest', '--input', join(dir, 'nope.jsonl'), '--store', join(dir, 's3')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--input .*nope.jsonl: cannot read \(ENOENT\)/);
  });
});

describe('server backends without a server', () => {
  it('say which variable to set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cli-corpus-'));
    const file = join(dir, 'in.jsonl');
    writeFileSync(file, '{"id":"a","text":"ok"}\n');
    await runCli(['corpus', 'ingest', '--input', file, '--store', join(dir, 's')]);
    const es = await runCli(['index', 'build', '--store', join(dir, 's'), '--backend', 'elasticsearch']);
    expect(es.code).toBe(2);
    expect(es.stderr).toMatch(/needs a server: set RG_ES_URL/);
    const qd = await runCli(['retrieve', '--store', join(dir, 's'), '--backend', 'qdrant', '--query', 'x']);
    expect(qd.code).toBe(2);
    expect(qd.stderr).toMatch(/needs a server: set RG_QDRANT_URL/);
  });
});
