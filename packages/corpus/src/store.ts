import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
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
}

export const STORE_FILE = 'corpus.sqlite';

export function contentHash(doc: Pick<Document, 'title' | 'text'>): string {
  return createHash('sha256')
    .update(doc.title ?? '')
    .update('\u0000')
    .update(doc.text)
    .digest('hex');
}

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

  private constructor(
    readonly dir: string,
    db: Database.Database,
  ) {
    this.db = db;
    this.insert = db.prepare('INSERT INTO documents (id, title, text, metadata, content_hash) VALUES (?, ?, ?, ?, ?)');
    this.byHash = db.prepare('SELECT id FROM documents WHERE content_hash = ?');
    this.byId = db.prepare('SELECT id, title, text, metadata, content_hash FROM documents WHERE id = ?');
    this.saveCheckpoint = db.prepare(
      `INSERT INTO ingest_checkpoints (source, byte_offset, line, records, done) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(source) DO UPDATE SET byte_offset = excluded.byte_offset, line = excluded.line, records = excluded.records, done = excluded.done`,
    );
  }

  /** Open (creating if needed) the store in `dir`. */
  static open(dir: string): CorpusStore {
    mkdirSync(dir, { recursive: true });
    const db = new Database(join(dir, STORE_FILE));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
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
    `);
    return new CorpusStore(dir, db);
  }

  /** Add documents in one transaction; optionally record a checkpoint in the same transaction. */
  add(docs: Document[], checkpoint?: Checkpoint): AddResult {
    const result: AddResult = { added: 0, duplicates: 0, conflicts: [] };
    const tx = this.db.transaction(() => {
      docs.forEach((doc, index) => {
        const hash = contentHash(doc);
        if (this.byHash.get(hash)) {
          result.duplicates++;
          return;
        }
        if (this.byId.get(doc.id)) {
          result.conflicts.push({ id: doc.id, index });
          return;
        }
        this.insert.run(doc.id, doc.title ?? '', doc.text, JSON.stringify(doc.metadata ?? {}), hash);
        result.added++;
      });
      if (checkpoint) this.writeCheckpoint(checkpoint);
    });
    tx();
    return result;
  }

  writeCheckpoint(c: Checkpoint): void {
    this.saveCheckpoint.run(c.source, c.byteOffset, c.line, c.records, c.done ? 1 : 0);
  }

  checkpoint(source: string): Checkpoint | undefined {
    const row = this.db.prepare('SELECT source, byte_offset, line, records, done FROM ingest_checkpoints WHERE source = ?').get(source) as
      | { source: string; byte_offset: number; line: number; records: number; done: number }
      | undefined;
    if (!row) return undefined;
    return { source: row.source, byteOffset: row.byte_offset, line: row.line, records: row.records, done: row.done === 1 };
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
    })();
    return n;
  }

  close(): void {
    this.db.close();
  }
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
