import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { metadataClause } from '../filter.js';
import type { Document, Embedder, Metadata, Retriever, SearchHit, SearchOptions } from '../types.js';

/** The text a passage is embedded from: its title (when it has one) on the line before its text. */
export function passageText(doc: Pick<Document, 'title' | 'text'>): string {
  return doc.title ? `${doc.title}\n${doc.text}` : doc.text;
}

function textHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export interface SqliteVecOptions {
  /** Close the embedder with the retriever (when the retriever created it). */
  ownsEmbedder?: boolean;
  /**
   * A previous dense index (e.g. the one a rebuild replaces): a document whose id and passage text
   * are unchanged takes its vector from there instead of being embedded again.
   */
  reuseFrom?: string;
}

/**
 * Dense retrieval: unit-length sentence embeddings in SQLite, ranked by sqlite-vec's cosine
 * distance. The scan is exact (every vector is compared), which keeps metadata filters exact too;
 * at 1,000-100,000 passages it takes milliseconds. Score = cosine similarity.
 *
 * Each row keeps the sha256 of the passage text it was embedded from, so adding a document again
 * with the same text reuses its vector. The `version` info row changes whenever a vector is added,
 * changed or removed (not on metadata-only updates): the HNSW index records the version it was
 * built from.
 */
export class SqliteVecRetriever implements Retriever {
  readonly backend = 'dense';
  private readonly db: Database.Database;
  private readonly donor: Database.Database | undefined;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    readonly path: string,
    private readonly embedder: Embedder,
    private readonly opts: SqliteVecOptions = {},
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    sqliteVec.load(this.db);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS vectors (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, metadata TEXT NOT NULL, embedding BLOB NOT NULL);
    `);
    // Indexes written before text hashes were kept get the column; their rows are embedded again once.
    const columns = this.db.pragma('table_info(vectors)') as Array<{ name: string }>;
    if (!columns.some((c) => c.name === 'text_sha')) this.db.exec('ALTER TABLE vectors ADD COLUMN text_sha TEXT');
    const stored = this.info('dim');
    if (stored !== undefined && Number(stored) !== embedder.dim) {
      throw new Error(`${path}: vectors have ${stored} dimensions, the encoder makes ${embedder.dim}; rebuild the index`);
    }
    if (stored === undefined) this.setInfo('dim', String(embedder.dim));
    if (opts.reuseFrom && opts.reuseFrom !== path && existsSync(opts.reuseFrom)) {
      const donor = new Database(opts.reuseFrom, { readonly: true, fileMustExist: true });
      const hasHashes = (donor.pragma('table_info(vectors)') as Array<{ name: string }>).some((c) => c.name === 'text_sha');
      const dim = donor.prepare("SELECT value FROM info WHERE key = 'dim'").get() as { value: string } | undefined;
      if (hasHashes && Number(dim?.value) === embedder.dim) this.donor = donor;
      else donor.close();
    }
  }

  get dim(): number {
    return this.embedder.dim;
  }

  /** A value of the `info` table (dim, version, and what other indexes over these vectors record). */
  info(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM info WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setInfo(key: string, value: string): void {
    this.db.prepare('INSERT INTO info (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /**
   * Vectors for documents: reused from this index or the `reuseFrom` index when the id and passage
   * text match, embedded otherwise. `changed[i]` is false when document i keeps the vector it has here.
   */
  async vectorsFor(docs: Document[]): Promise<{ vectors: Float32Array[]; changed: boolean[] }> {
    const hashes = docs.map((d) => textHash(passageText(d)));
    const own = this.db.prepare('SELECT embedding FROM vectors WHERE id = ? AND text_sha = ?');
    const theirs = this.donor?.prepare('SELECT embedding FROM vectors WHERE id = ? AND text_sha = ?');
    const vectors: Array<Float32Array | undefined> = [];
    const changed: boolean[] = [];
    const missing: number[] = [];
    docs.forEach((d, i) => {
      const mine = own.get(d.id, hashes[i]) as { embedding: Buffer } | undefined;
      const row = mine ?? (theirs?.get(d.id, hashes[i]) as { embedding: Buffer } | undefined);
      vectors.push(row ? toFloat32(row.embedding) : undefined);
      changed.push(!mine);
      if (!row) missing.push(i);
    });
    if (missing.length > 0) {
      const embedded = await this.embedder.embed(missing.map((i) => passageText(docs[i])));
      missing.forEach((i, j) => {
        vectors[i] = embedded[j];
      });
    }
    return { vectors: vectors as Float32Array[], changed };
  }

  async add(docs: Document[]): Promise<void> {
    if (docs.length === 0) return;
    const { vectors, changed } = await this.vectorsFor(docs);
    this.addVectors(docs, vectors, changed);
  }

  /**
   * Store documents with vectors computed elsewhere (unit length, `dim` long), in one transaction.
   * Returns each document's rowid (stable while the document exists; the HNSW index's label).
   */
  addVectors(docs: Document[], vectors: Float32Array[], changed: boolean[] = docs.map(() => true)): number[] {
    for (const [i, v] of vectors.entries()) {
      if (v.length !== this.dim) throw new RangeError(`vector of document "${docs[i].id}" has ${v.length} values, expected ${this.dim}`);
    }
    const upsert = this.db.prepare(
      `INSERT INTO vectors (id, metadata, embedding, text_sha) VALUES (?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET metadata = excluded.metadata, embedding = excluded.embedding, text_sha = excluded.text_sha
       RETURNING rowid`,
    );
    return this.db.transaction(() => {
      const rowids = docs.map(
        (d, i) =>
          (upsert.get(d.id, JSON.stringify(d.metadata ?? {}), blob(vectors[i]), textHash(passageText(d))) as { rowid: number }).rowid,
      );
      if (changed.some(Boolean)) this.setInfo('version', randomUUID());
      return rowids;
    })();
  }

  async delete(ids: string[]): Promise<void> {
    this.deleteIds(ids);
  }

  /** Delete documents by id; returns the rowids of those that were there. */
  deleteIds(ids: string[]): number[] {
    const del = this.db.prepare('DELETE FROM vectors WHERE id = ? RETURNING rowid');
    return this.db.transaction(() => {
      const rowids = ids.flatMap((id) => (del.all(id) as Array<{ rowid: number }>).map((r) => r.rowid));
      if (rowids.length > 0) this.setInfo('version', randomUUID());
      return rowids;
    })();
  }

  /** Every stored vector with its rowid, in rowid order, read lazily. */
  *rows(): IterableIterator<{ rowid: number; vector: Float32Array }> {
    const stmt = this.db.prepare('SELECT rowid, embedding FROM vectors ORDER BY rowid');
    for (const r of stmt.iterate() as IterableIterator<{ rowid: number; embedding: Buffer }>) {
      yield { rowid: r.rowid, vector: toFloat32(r.embedding) };
    }
  }

  /** Document ids of rowids (those that exist and match the filter), keyed by rowid. */
  idsOf(rowids: number[], filter?: Metadata): Map<number, string> {
    const clause = metadataClause('metadata', filter);
    const rows = this.prepared(`SELECT rowid, id FROM vectors WHERE rowid IN (SELECT value FROM json_each(?))${clause.sql}`).all(
      JSON.stringify(rowids),
      ...clause.params,
    ) as Array<{ rowid: number; id: string }>;
    return new Map(rows.map((r) => [r.rowid, r.id]));
  }

  /** Rank by a query vector (already embedded). */
  searchVector(vector: Float32Array, opts: SearchOptions): SearchHit[] {
    if (opts.k < 1) return [];
    const filter = metadataClause('metadata', opts.filter);
    const sql = `SELECT id, vec_distance_cosine(embedding, ?) AS distance FROM vectors WHERE 1${filter.sql} ORDER BY distance LIMIT ?`;
    const rows = this.prepared(sql).all(blob(vector), ...filter.params, opts.k) as Array<{ id: string; distance: number }>;
    return rows.map((r) => ({ id: r.id, score: 1 - r.distance }));
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return this.embedder.embed(texts);
  }

  async search(query: string, opts: SearchOptions): Promise<SearchHit[]> {
    const [vector] = await this.embedder.embed([query]);
    return this.searchVector(vector, opts);
  }

  async searchBatch(queries: string[], opts: SearchOptions): Promise<SearchHit[][]> {
    const vectors = await this.embedder.embed(queries);
    return vectors.map((v) => this.searchVector(v, opts));
  }

  async count(): Promise<number> {
    return this.size();
  }

  size(): number {
    return (this.prepared('SELECT count(*) AS n FROM vectors').get() as { n: number }).n;
  }

  async close(): Promise<void> {
    this.db.close();
    this.donor?.close();
    if (this.opts.ownsEmbedder) await this.embedder.close?.();
  }

  private prepared(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }
}

function blob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Copy: SQLite's buffer need not be 4-byte aligned for a Float32Array view. */
function toFloat32(bytes: Buffer): Float32Array {
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
