import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

const PASSAGES = [
  { id: 'insulin', title: 'Insulin', text: 'Insulin is a hormone produced by the pancreas that regulates blood glucose levels.' },
  { id: 'volcano', title: 'Volcano', text: 'A volcano erupts when molten rock called magma rises through the crust to the surface.' },
  { id: 'jazz', title: 'Jazz', text: 'Jazz music originated in New Orleans and features improvisation and swing rhythms.' },
];

/** An augmented record as rg augment writes it. */
function record(id: string, tags: string[], description: string): string {
  const p = PASSAGES.find((x) => x.id === id)!;
  return JSON.stringify({
    passageId: id,
    title: p.title,
    passage: p.text,
    rewrite: p.text,
    qa: [{ question: 'What is it about?', answer: p.title }],
    tags,
    description,
    generator: 'openai:test',
    promptVersion: 'rg-augment-v3',
    status: 'ok',
  });
}

async function storeWithPassages(): Promise<{ dir: string; store: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'rg-cli-tags-'));
  const input = join(dir, 'docs.jsonl');
  writeFileSync(input, PASSAGES.map((p) => JSON.stringify(p)).join('\n'));
  const store = join(dir, 'store');
  expect((await runCli(['corpus', 'ingest', '--input', input, '--store', store, '--json'])).code).toBe(0);
  return { dir, store };
}

const top = async (store: string, query: string): Promise<string[]> => {
  const r = await runCli(['retrieve', '--store', store, '--k', '3', '--query', query, '--json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout).docIds;
};

describe('rg index build --augmented / --field-weights', () => {
  it("indexes each document's tags and description (the template's tags where a record has none)", async () => {
    const { dir, store } = await storeWithPassages();
    const augmented = join(dir, 'aug.jsonl');
    writeFileSync(
      augmented,
      `${[record('volcano', ['Vesuvius', 'geophysics'], 'Eruptions explained.'), record('jazz', [], '')].join('\n')}\n`,
    );

    expect((await runCli(['index', 'build', '--store', store])).code).toBe(0);
    expect(await top(store, 'Vesuvius')).toEqual([]);
    const build = await runCli(['index', 'build', '--store', store, '--augmented', augmented, '--field-weights', 'tags=0.8', '--json']);
    expect(build.stderr).toBe('');
    expect(JSON.parse(build.stdout)).toMatchObject({
      backend: 'sqlite',
      documents: 3,
      fieldWeights: { text: 1, title: 1, tags: 0.8, description: 0.5 },
      tags: { records: 2, recordsNotInStore: 0, documentsWithTags: 2, tagsFromTemplate: 1 },
    });
    expect(await top(store, 'Vesuvius')).toEqual(['volcano']);
    expect(await top(store, 'eruptions explained')).toEqual(['volcano']);
    // The jazz record had no tags: the template's, from capitalised terms, are indexed instead.
    expect(await top(store, 'Orleans')).toEqual(['jazz']);
  });

  it('refuses bad weights naming the field, other backends, and a file from another corpus', async () => {
    const { dir, store } = await storeWithPassages();
    const unknown = await runCli(['index', 'build', '--store', store, '--field-weights', 'text=1,tagz=2']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/field weight "tagz": unknown field \(expected text, title, tags, description\)/);
    const negative = await runCli(['index', 'build', '--store', store, '--field-weights', 'description=-1']);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toMatch(/field weight "description": expected a number >= 0, got "-1"/);
    const dense = await runCli(['index', 'build', '--store', store, '--backend', 'dense', '--field-weights', 'tags=1']);
    expect(dense.code).toBe(2);
    expect(dense.stderr).toMatch(/--field-weights applies to --backend sqlite, hybrid, elasticsearch only/);

    const other = join(dir, 'other.jsonl');
    writeFileSync(other, `${record('volcano', ['x'], '').replace('"passageId":"volcano"', '"passageId":"elsewhere"')}\n`);
    const foreign = await runCli(['index', 'build', '--store', store, '--augmented', other]);
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/none of its 1 passage ids is a document of the store/);
    const missing = await runCli(['index', 'build', '--store', store, '--augmented', join(dir, 'nope.jsonl')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--augmented .*nope\.jsonl: not found/);
  });
});
