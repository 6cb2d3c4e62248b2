import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FIELD_WEIGHTS } from '../fields.js';
import { commitBuild, openRetriever } from '../open.js';
import { CONTRACT_DOCS, CONTRACT_QUERIES, fieldsContract, retrieverContract } from '../testing/contract.js';
import { FTS5_TOKENIZE, SqliteBm25Retriever, toMatchQuery } from './bm25.js';

const fresh = (): string => join(mkdtempSync(join(tmpdir(), 'rg-bm25-')), 'bm25.sqlite');

retrieverContract('sqlite (BM25)', async () => new SqliteBm25Retriever(fresh()));
fieldsContract('sqlite (BM25)', async (fieldWeights) => new SqliteBm25Retriever(fresh(), { fieldWeights }));

/**
 * An index exactly as the backend wrote it before tags: two columns, FTS5's default bm25() (no stored rank).
 * Searched with the SQL that version ran, it is the reference the new index must reproduce.
 */
function legacyIndex(path: string, docs: typeof CONTRACT_DOCS): Database.Database {
  const db = new Database(path);
  db.exec(`
    CREATE TABLE docs (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, metadata TEXT NOT NULL);
    CREATE VIRTUAL TABLE fts USING fts5(title, text, content='', contentless_delete=1, tokenize='${FTS5_TOKENIZE}');
  `);
  const doc = db.prepare('INSERT INTO docs (id, metadata) VALUES (?, ?) RETURNING rowid');
  const fts = db.prepare('INSERT INTO fts (rowid, title, text) VALUES (?, ?, ?)');
  for (const d of docs) {
    const { rowid } = doc.get(d.id, JSON.stringify(d.metadata ?? {})) as { rowid: number };
    fts.run(rowid, d.title ?? '', d.text);
  }
  return db;
}

function legacySearch(db: Database.Database, query: string, k: number): Array<{ id: string; score: number }> {
  const rows = db
    .prepare('SELECT d.id AS id, fts.rank AS rank FROM fts JOIN docs d ON d.rowid = fts.rowid WHERE fts MATCH ? ORDER BY fts.rank LIMIT ?')
    .all(toMatchQuery(query), k) as Array<{ id: string; rank: number }>;
  return rows.map((r) => ({ id: r.id, score: -r.rank }));
}

const RANKING_QUERIES = [
  ...CONTRACT_QUERIES.map((q) => q.query),
  'pain relief drug that reduces fever',
  'relieve pain',
  'blood sugar hormone',
  'rock',
];

describe('sqlite BM25 fields: ranking without tags is unchanged', () => {
  it('an index built without tags ranks and scores exactly as the two-column index did, whatever the tag weights', async () => {
    const legacy = legacyIndex(fresh(), CONTRACT_DOCS);
    for (const fieldWeights of [undefined, { tags: 3, description: 0.1 }, { tags: 0, description: 0 }]) {
      const r = new SqliteBm25Retriever(fresh(), { fieldWeights });
      await r.add(CONTRACT_DOCS);
      for (const q of RANKING_QUERIES) {
        const expected = legacySearch(legacy, q, 8);
        expect(expected.length).toBeGreaterThan(0);
        expect(await r.search(q, { k: 8 })).toEqual(expected);
      }
      await r.close();
    }
    legacy.close();
  });

  it('opens an index built before tags: searches as before, adds plain documents, refuses tags with "rebuild the index"', async () => {
    const path = fresh();
    legacyIndex(path, CONTRACT_DOCS).close();
    const r = new SqliteBm25Retriever(path);
    expect(r.hasFieldColumns).toBe(false);
    expect(r.fieldWeights()).toEqual({ text: 1, title: 1, tags: 0, description: 0 });
    const reference = legacyIndex(fresh(), CONTRACT_DOCS);
    for (const q of RANKING_QUERIES) expect(await r.search(q, { k: 8 })).toEqual(legacySearch(reference, q, 8));
    reference.close();
    await r.add([{ id: 'glacier', text: 'Glaciers are slow rivers of ice.' }]);
    expect((await r.search('glacier ice', { k: 1 }))[0]?.id).toBe('glacier');
    await expect(r.add([{ id: 'x', text: 'plain', tags: ['Tagged'] }])).rejects.toThrow(
      /document "x" has tags or a description.*built before tags.*rebuild the index \(`rg index build --store STORE --backend sqlite`\)/,
    );
    expect(() => r.setFieldWeights({ tags: 1 })).toThrow(/rebuild the index/);
    // Title and text weights still apply to an old index (its rank function has two arguments).
    r.setFieldWeights({ title: 2 });
    expect(r.fieldWeights()).toEqual({ text: 1, title: 2, tags: 0, description: 0 });
    await r.close();
  });
});

describe('sqlite BM25 fields: weights', () => {
  it('stores the weights in the index: a later open searches with them', async () => {
    const path = fresh();
    const built = new SqliteBm25Retriever(path, { bulk: true, fieldWeights: { tags: 2, text: 0.7 } });
    await built.add([{ id: 'a', text: 'passage', tags: ['Zebrafish'] }]);
    await built.close();
    const again = new SqliteBm25Retriever(path);
    expect(again.fieldWeights()).toEqual({ ...DEFAULT_FIELD_WEIGHTS, tags: 2, text: 0.7 });
    again.setFieldWeights({ description: 0.25 });
    expect(again.fieldWeights()).toEqual({ text: 0.7, title: 1, tags: 2, description: 0.25 });
    await again.close();
    expect(new SqliteBm25Retriever(path).fieldWeights().description).toBe(0.25);
  });

  it("a new index without weights gets the defaults, not FTS5's all-ones", () => {
    expect(new SqliteBm25Retriever(fresh()).fieldWeights()).toEqual(DEFAULT_FIELD_WEIGHTS);
  });

  it('names the field of a bad weight', () => {
    expect(() => new SqliteBm25Retriever(fresh(), { fieldWeights: { tags: -1 } })).toThrow(
      'field weight "tags": expected a finite number >= 0, got -1',
    );
    expect(() => new SqliteBm25Retriever(fresh(), { fieldWeights: { description: Number.NaN } })).toThrow(/field weight "description"/);
    expect(() => new SqliteBm25Retriever(fresh(), { fieldWeights: { text: 0, title: 0, tags: 0, description: 0 } })).toThrow(
      /every weight is 0/,
    );
  });

  it('a field weighted 0 is not searched at all (no hits with score 0)', async () => {
    const r = new SqliteBm25Retriever(fresh(), { fieldWeights: { description: 0 } });
    await r.add([
      { id: 'a', text: 'A river in the north.', description: 'Danube' },
      { id: 'b', text: 'The Danube flows east.' },
    ]);
    expect((await r.search('danube', { k: 5 })).map((h) => h.id)).toEqual(['b']);
    r.setFieldWeights({ description: 1 });
    expect((await r.search('danube', { k: 5 })).map((h) => h.id).sort()).toEqual(['a', 'b']);
    await r.close();
  });
});

describe('sqlite BM25 specifics', () => {
  it('quotes terms so user text is never FTS5 syntax, and drops stopwords', () => {
    expect(toMatchQuery('What is NEAR "the" cancer* OR x-ray?')).toBe('"what" OR "near" OR "cancer" OR "x" OR "ray"');
    expect(toMatchQuery('the of and')).toBeUndefined();
  });

  it('stems and folds diacritics (porter unicode61 remove_diacritics 2)', async () => {
    const r = new SqliteBm25Retriever(fresh());
    await r.add([
      { id: 'a', text: 'Naïve patients were vaccinated' },
      { id: 'b', text: 'unrelated text about rivers' },
    ]);
    expect((await r.search('naive patient vaccination', { k: 5 })).map((h) => h.id)).toEqual(['a']);
    await r.close();
  });

  it('persists across reopen', async () => {
    const path = fresh();
    const r = new SqliteBm25Retriever(path);
    await r.add([{ id: 'a', text: 'persisted passage' }]);
    await r.close();
    const again = new SqliteBm25Retriever(path);
    expect((await again.search('passage', { k: 1 }))[0]?.id).toBe('a');
    await again.close();
  });
});

describe('openRetriever with field weights', () => {
  it('a sqlite build stores them in the committed index', async () => {
    const storeDir = mkdtempSync(join(tmpdir(), 'rg-bm25-store-'));
    const built = await openRetriever('sqlite', { storeDir, build: true, fieldWeights: { tags: 1.5 } });
    await built.add([{ id: 'a', text: 'passage', tags: ['Okapi'] }]);
    await built.close();
    commitBuild(storeDir, 'sqlite');
    const r = (await openRetriever('sqlite', { storeDir })) as SqliteBm25Retriever;
    expect(r.fieldWeights()).toEqual({ ...DEFAULT_FIELD_WEIGHTS, tags: 1.5 });
    expect((await r.search('okapi', { k: 1 }))[0]?.id).toBe('a');
    await r.close();
  });

  it('refuses them for a backend that has no such fields', async () => {
    const storeDir = mkdtempSync(join(tmpdir(), 'rg-bm25-store-'));
    await expect(openRetriever('dense', { storeDir, build: true, fieldWeights: { tags: 1 } })).rejects.toThrow(
      'field weights apply to the sqlite, hybrid, elasticsearch backends, not dense',
    );
  });
});
