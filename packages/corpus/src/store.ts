import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** Metadata values a document may carry; kept flat so every backend can filter on them. */
export type MetadataValue = string | number | boolean;
export type Metadata = Record<string, MetadataValue>;

export interface Document {
  id: string;
  text: string;
  title?: string;
  metadata?: Metadata;
}

export interface StoredDocument extends Required<Omit<Document, 'metadata'>> {
  metadata: Metadata;
  /** sha256 of title + text: two documents with the same content are stored once. */
  contentHash: string;
}

export interface AddResult {
  added: number;
  /** Ids stored before `replaceUpTo` whose content was replaced (re-ingest of a changed file). */
  replaced: number;
  /** Same content already stored (under any id). */
  duplicates: number;
  /** Id already stored with different content; the new one is not stored. */
  conflicts: Array<{ id: string; index: number }>;
}

/** Where an interrupted ingest of one input file stopped. */
export interface Checkpoint {
  source: string;
  byteOffset: number;
  line: number;
  records: number;
  done: boolean;
  /**
   * The file as it was when this checkpoint was written: a resume is valid only while the bytes
   * before `byteOffset` are unchanged (sha256 of that prefix). Absent in checkpoints of older rg
   * versions, which then start over (dedupe keeps that idempotent).
   */
  file?: FileIdentity;
}

export interface FileIdentity {
  size: number;
  mtimeMs: number;
  /** sha256 (hex) of the bytes [0, byteOffset) the checkpoint has consumed. */
  prefixSha256: string;
}

/** A run of add() calls allowed to replace rows up to `upTo` (see CorpusStore.startReplacing). */
export interface ReplaceRun {
  upTo: number;
}

/** The store folder or its database cannot be used; the message names the path. */
export class StoreOpenError extends Error {
  override name = 'StoreOpenError';
}

export const STORE_FILE = 'corpus.sqlite';

export function contentHash(doc: Pick<Document, 'title' | 'text'>): string {
  return createHash('sha256')
    .update(doc.title ?? '')
    .update('\u0000')
    .update(doc.text)
    .digest('hex');
}

/** How long opening and writing wait for another connection's lock before failing (SQLITE_BUSY). */
const BUSY_TIMEOUT_MS = 5000;

/**
 * The document store: one SQLite file (WAL) in a folder. Documents are keyed by id and by
 * content hash; writes go in batches inside one transaction each, together with the ingest
 * checkpoint, so a crash never leaves a checkpoint ahead of the stored documents.
 */
export class CorpusStore {
  readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly byHash: Database.Statement;
  private readonly byId: Database.Statement;
  private readonly saveCheckpoint: Database.Statement;
  private readonly seqOf: Database.Statement;
  private readonly markSeen: Database.Statement;
  private readonly replace: Database.Statement;
  private readonly bumpGeneration: Database.Statement;

  private constructor(
    readonly dir: string,
    db: Database.Database,
  ) {
    this.db = db;
    this.insert = db.prepare('INSERT INTO documents (id, title, text, metadata, content_hash) VALUES (?, ?, ?, ?, ?)');
    this.byHash = db.prepare('SELECT id FROM documents WHERE content_hash = ?');
    this.byId = db.prepare('SELECT id, title, text, metadata, content_hash FROM documents WHERE id = ?');
    this.seqOf = db.prepare('SELECT seq FROM documents WHERE id = ?');
    db.exec('CREATE TEMP TABLE IF NOT EXISTS run_ids (id TEXT PRIMARY KEY)');
    this.markSeen = db.prepare('INSERT OR IGNORE INTO temp.run_ids (id) VALUES (?)');
    this.replace = db.prepare('UPDATE documents SET title = ?, text = ?, metadata = ?, content_hash = ? WHERE seq = ?');
    this.bumpGeneration = db.prepare(
      "INSERT INTO store_meta (key, value) VALUES ('generation', 1) ON CONFLICT(key) DO UPDATE SET value = value + 1",
    );
    this.saveCheckpoint = db.prepare(
      `INSERT INTO ingest_checkpoints (source, byte_offset, line, records, done, file_size, mtime_ms, prefix_sha256)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(source) DO UPDATE SET byte_offset = excluded.byte_offset, line = excluded.line, records = excluded.records,
         done = excluded.done, file_size = excluded.file_size, mtime_ms = excluded.mtime_ms, prefix_sha256 = excluded.prefix_sha256`,
    );
  }

  /**
   * Open the store in `dir`, creating it unless `create` is false (read-only commands must not
   * leave an empty store behind a mistyped path). Errors name the folder or database file.
   */
  static open(dir: string, opts: { create?: boolean; busyTimeoutMs?: number } = {}): CorpusStore {
    const file = join(dir, STORE_FILE);
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw new StoreOpenError(`${dir}: is a file, expected a store folder`);
    if (opts.create === false && !existsSync(file)) {
      throw new StoreOpenError(`${dir}: no corpus store here (missing ${STORE_FILE}); create one with \`rg corpus ingest --store ${dir}\``);
    }
    mkdirSync(dir, { recursive: true });
    const busyTimeoutMs = opts.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
    // Two processes creating the same store at once (the server's jobs and an rg command, two ingests): switching a
    // new database to WAL fails with SQLITE_BUSY at once, without SQLite's busy handler. Opening again succeeds.
    const deadline = Date.now() + busyTimeoutMs;
    for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
      let db: Database.Database | undefined;
      try {
        db = new Database(file);
        // Writes from another connection wait for its lock this long instead of failing at once.
        db.pragma(`busy_timeout = ${busyTimeoutMs}`);
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        createSchema(db);
        return new CorpusStore(dir, db);
      } catch (e) {
        db?.close();
        const code = (e as { code?: unknown }).code;
        if (typeof code === 'string' && code.startsWith('SQLITE_BUSY') && Date.now() + wait <= deadline) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
          continue;
        }
        throw new StoreOpenError(`${file}: cannot open the corpus store (${(e as Error).message})`);
      }
    }
  }

  /**
   * Add documents in one transaction; optionally record a checkpoint in the same transaction.
   * An id already stored with other content is a conflict, unless `replace` (from
   * startReplacing, for a re-ingest of a changed file) is given and the row predates that run:
   * then the new content replaces it, so edited records update while two records of the same run
   * with one id are still reported as a conflict.
   */
  add(docs: Document[], checkpoint?: Checkpoint, opts: { replace?: ReplaceRun } = {}): AddResult {
    const result: AddResult = { added: 0, replaced: 0, duplicates: 0, conflicts: [] };
    const replace = opts.replace;
    const tx = this.db.transaction(() => {
      docs.forEach((doc, index) => {
        const hash = contentHash(doc);
        // Only the first record of a run with a given id may replace: a second one is a conflict as usual.
        const firstInRun = replace !== undefined && this.markSeen.run(doc.id).changes === 1;
        if (this.byHash.get(hash)) {
          result.duplicates++;
          return;
        }
        const old = this.seqOf.get(doc.id) as { seq: number } | undefined;
        if (old && replace && firstInRun && old.seq <= replace.upTo) {
          this.replace.run(doc.title ?? '', doc.text, JSON.stringify(doc.metadata ?? {}), hash, old.seq);
          result.replaced++;
          return;
        }
        if (old) {
          result.conflicts.push({ id: doc.id, index });
          return;
        }
        this.insert.run(doc.id, doc.title ?? '', doc.text, JSON.stringify(doc.metadata ?? {}), hash);
        result.added++;
      });
      if (checkpoint) this.writeCheckpoint(checkpoint);
      if (result.added + result.replaced > 0) this.bumpGeneration.run();
    });
    tx();
    return result;
  }

  writeCheckpoint(c: Checkpoint): void {
    this.saveCheckpoint.run(
      c.source,
      c.byteOffset,
      c.line,
      c.records,
      c.done ? 1 : 0,
      c.file?.size ?? null,
      c.file?.mtimeMs ?? null,
      c.file?.prefixSha256 ?? null,
    );
  }

  checkpoint(source: string): Checkpoint | undefined {
    const row = this.db
      .prepare(
        'SELECT source, byte_offset, line, records, done, file_size, mtime_ms, prefix_sha256 FROM ingest_checkpoints WHERE source = ?',
      )
      .get(source) as CheckpointRow | undefined;
    if (!row) return undefined;
    const file =
      row.prefix_sha256 === null ? undefined : { size: row.file_size ?? 0, mtimeMs: row.mtime_ms ?? 0, prefixSha256: row.prefix_sha256 };
    return { source: row.source, byteOffset: row.byte_offset, line: row.line, records: row.records, done: row.done === 1, file };
  }

  /**
   * Begin a run whose records may replace documents stored before it (see add). The ids the run
   * has seen live in a temporary table of this connection, not in memory.
   */
  startReplacing(): ReplaceRun {
    this.db.exec('DELETE FROM temp.run_ids');
    return { upTo: (this.db.prepare('SELECT coalesce(max(seq), 0) AS n FROM documents').get() as { n: number }).n };
  }

  /**
   * A counter raised by every change to the documents (add, replace, delete). An index records
   * the generation it was built from, so a search can tell that the store moved on since.
   */
  generation(): number {
    return (this.db.prepare("SELECT value FROM store_meta WHERE key = 'generation'").get() as { value: number } | undefined)?.value ?? 0;
  }

  get(id: string): StoredDocument | undefined {
    const row = this.byId.get(id) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Documents in insertion order, read lazily (constant memory). */
  *iterate(): IterableIterator<StoredDocument> {
    const stmt = this.db.prepare('SELECT id, title, text, metadata, content_hash FROM documents ORDER BY seq');
    for (const row of stmt.iterate() as IterableIterator<Row>) yield fromRow(row);
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM documents').get() as { n: number }).n;
  }

  delete(ids: string[]): number {
    const del = this.db.prepare('DELETE FROM documents WHERE id = ?');
    let n = 0;
    this.db.transaction(() => {
      for (const id of ids) n += del.run(id).changes;
      if (n > 0) this.bumpGeneration.run();
    })();
    return n;
  }

  close(): void {
    this.db.close();
  }
}

function createSchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS documents (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      title TEXT NOT NULL,
      text TEXT NOT NULL,
      metadata TEXT NOT NULL,
      content_hash TEXT NOT NULL UNIQUE
    );
    CREATE TABLE IF NOT EXISTS ingest_checkpoints (
      source TEXT PRIMARY KEY,
      byte_offset INTEGER NOT NULL,
      line INTEGER NOT NULL,
      records INTEGER NOT NULL,
      done INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
  `);
  // Stores written before checkpoints carried the file's identity get the columns added (NULL = unknown).
  const columns = new Set((db.prepare('PRAGMA table_info(ingest_checkpoints)').all() as Array<{ name: string }>).map((c) => c.name));
  for (const [name, type] of [
    ['file_size', 'INTEGER'],
    ['mtime_ms', 'REAL'],
    ['prefix_sha256', 'TEXT'],
  ]) {
    if (!columns.has(name)) db.exec(`ALTER TABLE ingest_checkpoints ADD COLUMN ${name} ${type}`);
  }
}

interface CheckpointRow {
  source: string;
  byte_offset: number;
  line: number;
  records: number;
  done: number;
  file_size: number | null;
  mtime_ms: number | null;
  prefix_sha256: string | null;
}

interface Row {
  id: string;
  title: string;
  text: string;
  metadata: string;
  content_hash: string;
}

function fromRow(r: Row): StoredDocument {
  return { id: r.id, title: r.title, text: r.text, metadata: JSON.parse(r.metadata) as Metadata, contentHash: r.content_hash };
}
