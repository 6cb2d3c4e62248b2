import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { metadataClause } from '../filter.js';
import type { Document, Retriever, SearchHit, SearchOptions } from '../types.js';

/**
 * FTS5 tokenizer: unicode61 splits on anything that is not a letter or digit and lowercases;
 * remove_diacritics 2 folds accents (naïve = naive), porter stems English words (fevers = fever).
 */
export const FTS5_TOKENIZE = 'porter unicode61 remove_diacritics 2';

// Lucene's classic English stop set: these match nearly every passage, add little to BM25 and make
// OR queries walk huge posting lists on large corpora.
const STOPWORDS = new Set(
  'a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with'.split(
    ' ',
  ),
);

/** Query text -> an FTS5 OR query of its quoted terms (quoting keeps user text from being read as FTS5 syntax). */
export function toMatchQuery(text: string): string | undefined {
  const terms = new Set<string>();
  for (const m of text.toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)) if (!STOPWORDS.has(m[0])) terms.add(m[0]);
  return terms.size === 0 ? undefined : [...terms].map((t) => `"${t}"`).join(' OR ');
}

/**
 * BM25 over SQLite FTS5 (k1 = 1.2, b = 0.75, FTS5's built-in). The FTS table is contentless:
 * it keeps only the inverted index; ids and metadata sit in a side table with the same rowid.
 */
export class SqliteBm25Retriever implements Retriever {
  readonly backend = 'sqlite';
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  /**
   * `bulk`: the index is being built in one go; close() then merges FTS5's segments into one
   * b-tree ('optimize'), which makes later queries read one posting list per term instead of many.
   */
  constructor(
    readonly path: string,
    private readonly opts: { bulk?: boolean } = {},
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS docs (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, metadata TEXT NOT NULL);
      CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, text, content='', contentless_delete=1, tokenize='${FTS5_TOKENIZE}');
    `);
  }

  async add(docs: Document[]): Promise<void> {
    const find = this.db.prepare('SELECT rowid FROM docs WHERE id = ?');
    const delFts = this.db.prepare('DELETE FROM fts WHERE rowid = ?');
    const upsert = this.db.prepare(
      'INSERT INTO docs (id, metadata) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET metadata = excluded.metadata RETURNING rowid',
    );
    const insFts = this.db.prepare('INSERT INTO fts (rowid, title, text) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (const d of docs) {
        const old = find.get(d.id) as { rowid: number } | undefined;
        if (old) delFts.run(old.rowid);
        const { rowid } = upsert.get(d.id, JSON.stringify(d.metadata ?? {})) as { rowid: number };
        insFts.run(rowid, d.title ?? '', d.text);
      }
    })();
  }

  async delete(ids: string[]): Promise<void> {
    const find = this.db.prepare('SELECT rowid FROM docs WHERE id = ?');
    const delFts = this.db.prepare('DELETE FROM fts WHERE rowid = ?');
    const delDoc = this.db.prepare('DELETE FROM docs WHERE rowid = ?');
    this.db.transaction(() => {
      for (const id of ids) {
        const row = find.get(id) as { rowid: number } | undefined;
        if (!row) continue;
        delFts.run(row.rowid);
        delDoc.run(row.rowid);
      }
    })();
  }

  /** Synchronous search, for callers that time single queries without promise overhead. */
  searchSync(query: string, opts: SearchOptions): SearchHit[] {
    const match = toMatchQuery(query);
    if (match === undefined || opts.k < 1) return [];
    const filter = metadataClause('d.metadata', opts.filter);
    const sql = `SELECT d.id AS id, fts.rank AS rank FROM fts JOIN docs d ON d.rowid = fts.rowid
      WHERE fts MATCH ?${filter.sql} ORDER BY fts.rank LIMIT ?`;
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    const rows = stmt.all(match, ...filter.params, opts.k) as Array<{ id: string; rank: number }>;
    // FTS5's bm25() is negated so that ascending order is best-first; flip it back.
    return rows.map((r) => ({ id: r.id, score: -r.rank }));
  }

  async search(query: string, opts: SearchOptions): Promise<SearchHit[]> {
    return this.searchSync(query, opts);
  }

  async searchBatch(queries: string[], opts: SearchOptions): Promise<SearchHit[][]> {
    return queries.map((q) => this.searchSync(q, opts));
  }

  async count(): Promise<number> {
    return (this.db.prepare('SELECT count(*) AS n FROM docs').get() as { n: number }).n;
  }

  /** Merge the index's segments into one (what a bulk build does on close). */
  optimize(): void {
    this.db.exec("INSERT INTO fts (fts) VALUES ('optimize')");
  }

  async close(): Promise<void> {
    if (this.opts.bulk) this.optimize();
    this.db.close();
  }
}
