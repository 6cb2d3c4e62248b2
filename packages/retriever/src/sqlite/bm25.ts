import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { type FieldWeights, resolveFieldWeights, tagsText } from '../fields.js';
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

/** The FTS5 columns, in the order bm25()'s weights are given. Indexes built before tags have the first two only. */
const COLUMNS = ['title', 'text', 'tags', 'description'] as const;

/** The rank function FTS5 stores in the index (its 'rank' option), so every later search of it weighs fields alike. */
function rankFunction(w: FieldWeights, columns: readonly string[]): string {
  return `bm25(${columns.map((c) => String(w[c as keyof FieldWeights])).join(', ')})`;
}

/**
 * BM25 over SQLite FTS5 (k1 = 1.2, b = 0.75, FTS5's built-in). The FTS table is contentless:
 * it keeps only the inverted index; ids and metadata sit in a side table with the same rowid.
 * Columns title, text, tags, description, weighted by the field weights stored in the index. FTS5 multiplies a
 * term's frequency in a column by the column's weight and normalises by the length of the whole row, so a
 * document with no tags and no description scores exactly as it did when the index had only title and text.
 */
export class SqliteBm25Retriever implements Retriever {
  readonly backend = 'sqlite';
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  /** Columns of this index's FTS table: all four, or title and text for an index built before tags existed. */
  private readonly columns: readonly string[];
  /** Read once per open (and on setFieldWeights): searches are timed per query. */
  private weights: FieldWeights;

  /**
   * `bulk`: the index is being built in one go; close() then merges FTS5's segments into one
   * b-tree ('optimize'), which makes later queries read one posting list per term instead of many.
   * `fieldWeights`: stored in the index for every later search (missing fields: DEFAULT_FIELD_WEIGHTS when the
   * index is new, the stored ones otherwise). Without it a new index gets the defaults and an existing one keeps its own.
   */
  constructor(
    readonly path: string,
    private readonly opts: { bulk?: boolean; fieldWeights?: Partial<FieldWeights> } = {},
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    const created = this.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'fts'").get() === undefined;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS docs (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, metadata TEXT NOT NULL);
      CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(${COLUMNS.join(', ')}, content='', contentless_delete=1, tokenize='${FTS5_TOKENIZE}');
    `);
    this.columns = this.db
      .prepare('SELECT * FROM fts')
      .columns()
      .map((c) => c.name);
    this.weights = this.storedWeights();
    // A new index stores its weights at once: FTS5's own default (every column 1) would weigh tags like the text.
    if (created || opts.fieldWeights) this.setFieldWeights(opts.fieldWeights ?? {});
  }

  /** Whether this index has the tags and description columns (false: built before they existed). */
  get hasFieldColumns(): boolean {
    return this.columns.length === COLUMNS.length;
  }

  private rebuildError(what: string): Error {
    return new Error(
      `${this.path}: ${what}, but this BM25 index was built before tags and descriptions were indexed (columns ${this.columns.join(', ')}): ` +
        'rebuild the index (`rg index build --store STORE --backend sqlite`)',
    );
  }

  /** The field weights searches of this index use. */
  fieldWeights(): FieldWeights {
    return { ...this.weights };
  }

  private storedWeights(): FieldWeights {
    const row = this.db.prepare("SELECT v FROM fts_config WHERE k = 'rank'").get() as { v: string } | undefined;
    const values =
      /^bm25\(([^)]*)\)$/
        .exec(row?.v ?? '')?.[1]
        .split(',')
        .map(Number) ?? [];
    // No stored rank: FTS5's default bm25(), every column weighted 1 (an index built before weights were stored).
    return Object.fromEntries(COLUMNS.map((c, i) => [c, this.columns.includes(c) ? (values[i] ?? 1) : 0])) as FieldWeights;
  }

  /**
   * Store new field weights in the index (missing fields keep the current ones); searches by any process use them
   * from then on. A RangeError names a bad weight.
   */
  setFieldWeights(weights: Partial<FieldWeights>): void {
    if (!this.hasFieldColumns && (weights.tags !== undefined || weights.description !== undefined))
      throw this.rebuildError('tags or description weights were given');
    const stored = this.db.prepare("SELECT 1 FROM fts_config WHERE k = 'rank'").get() !== undefined;
    // Fields an old index lacks are left out: resolveFieldWeights would fill them with defaults.
    const current = stored ? Object.fromEntries(this.columns.map((c) => [c, this.weights[c as keyof FieldWeights]])) : {};
    const resolved = resolveFieldWeights({ ...current, ...weights });
    this.db.prepare("INSERT INTO fts (fts, rank) VALUES ('rank', ?)").run(rankFunction(resolved, this.columns));
    this.weights = this.storedWeights();
  }

  async add(docs: Document[]): Promise<void> {
    const tagged = docs.find((d) => (d.tags?.length ?? 0) > 0 || (d.description ?? '') !== '');
    if (tagged && !this.hasFieldColumns) throw this.rebuildError(`document "${tagged.id}" has tags or a description`);
    const find = this.db.prepare('SELECT rowid FROM docs WHERE id = ?');
    const delFts = this.db.prepare('DELETE FROM fts WHERE rowid = ?');
    const upsert = this.db.prepare(
      'INSERT INTO docs (id, metadata) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET metadata = excluded.metadata RETURNING rowid',
    );
    const insFts = this.db.prepare(
      `INSERT INTO fts (rowid, ${this.columns.join(', ')}) VALUES (?, ${this.columns.map(() => '?').join(', ')})`,
    );
    this.db.transaction(() => {
      for (const d of docs) {
        const old = find.get(d.id) as { rowid: number } | undefined;
        if (old) delFts.run(old.rowid);
        const { rowid } = upsert.get(d.id, JSON.stringify(d.metadata ?? {})) as { rowid: number };
        const fields = [d.title ?? '', d.text, tagsText(d.tags), d.description ?? ''];
        insFts.run(rowid, ...fields.slice(0, this.columns.length));
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
    const terms = toMatchQuery(query);
    if (terms === undefined || opts.k < 1) return [];
    // A field weighted 0 is not searched: otherwise a document matching only there would come back with score 0.
    const searched = this.columns.filter((c) => this.weights[c as keyof FieldWeights] > 0);
    const match = searched.length === this.columns.length ? terms : `{${searched.join(' ')}} : (${terms})`;
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
