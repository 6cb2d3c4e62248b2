import { join } from 'node:path';
import type { VectorItem } from '@rg/clustering';
import type { CorpusStore, StoredDocument } from '@rg/corpus';
import { passageText } from '@rg/retriever';

/** Texts in, unit-length vectors out (the retriever's Embedder shape). */
export interface TextEmbedder {
  readonly dim: number;
  embed(texts: string[]): Promise<Float32Array[]>;
}

export const EMBEDDINGS_FILE = 'embeddings.sqlite';

interface DocRow {
  seq: number;
  id: string;
  title: string;
  text: string;
  metadata: string;
  content_hash: string;
  vector: Buffer;
}

interface PendingRow {
  seq: number;
  id: string;
  title: string;
  text: string;
  content_hash: string;
}

/**
 * Document vectors cached per (embedding model, document id) in `embeddings.sqlite` beside the corpus. The file is
 * attached to the corpus connection so a scan joins on the content hash: a document whose text changed is embedded
 * again, and an interrupted run resumes from the documents that have no vector yet (each batch is one transaction).
 */
export class EmbeddingCache {
  private constructor(
    private readonly store: CorpusStore,
    readonly model: string,
  ) {}

  static open(store: CorpusStore, model: string): EmbeddingCache {
    const db = store.db;
    const attached = (db.pragma('database_list') as Array<{ name: string }>).some((d) => d.name === 'rg_emb');
    if (!attached) db.prepare('ATTACH DATABASE ? AS rg_emb').run(join(store.dir, EMBEDDINGS_FILE));
    db.pragma('rg_emb.journal_mode = WAL');
    db.exec(`CREATE TABLE IF NOT EXISTS rg_emb.vectors (
      model TEXT NOT NULL,
      id TEXT NOT NULL,
      content_hash TEXT NOT NULL,
      vector BLOB NOT NULL,
      PRIMARY KEY (model, id)
    )`);
    return new EmbeddingCache(store, model);
  }

  /** Documents with no vector (or a stale one) for this model. */
  pending(): number {
    const row = this.store.db
      .prepare(
        `SELECT count(*) AS n FROM main.documents d LEFT JOIN rg_emb.vectors v
         ON v.model = ? AND v.id = d.id AND v.content_hash = d.content_hash WHERE v.id IS NULL`,
      )
      .get(this.model) as { n: number };
    return row.n;
  }

  /** Embeds every pending document in batches; `onBatch` is called with each batch's size. Returns how many were embedded. */
  async fill(embedder: TextEmbedder, opts: { batchSize: number; onBatch?: (n: number) => void }): Promise<number> {
    const db = this.store.db;
    const next = db.prepare(
      `SELECT d.seq, d.id, d.title, d.text, d.content_hash FROM main.documents d LEFT JOIN rg_emb.vectors v
       ON v.model = ? AND v.id = d.id AND v.content_hash = d.content_hash
       WHERE v.id IS NULL AND d.seq > ? ORDER BY d.seq LIMIT ?`,
    );
    const put = db.prepare(
      `INSERT INTO rg_emb.vectors (model, id, content_hash, vector) VALUES (?, ?, ?, ?)
       ON CONFLICT (model, id) DO UPDATE SET content_hash = excluded.content_hash, vector = excluded.vector`,
    );
    let cursor = 0;
    let done = 0;
    for (;;) {
      const rows = next.all(this.model, cursor, opts.batchSize) as PendingRow[];
      if (rows.length === 0) return done;
      const vectors = await embedder.embed(rows.map(passageText));
      if (vectors.length !== rows.length) {
        throw new Error(`embedder returned ${vectors.length} vectors for ${rows.length} texts`);
      }
      rows.forEach((r, i) => {
        const v = vectors[i];
        if (v.length !== embedder.dim)
          throw new Error(`embedder returned ${v.length} dims for document '${r.id}', expected ${embedder.dim}`);
        if (!v.every(Number.isFinite)) throw new Error(`embedder returned a non-finite value for document '${r.id}'`);
      });
      db.transaction(() => {
        rows.forEach((r, i) => {
          const v = vectors[i];
          put.run(this.model, r.id, r.content_hash, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
        });
      })();
      cursor = rows[rows.length - 1].seq;
      done += rows.length;
      opts.onBatch?.(rows.length);
    }
  }

  /** Current vectors of the store's documents, in store order, read lazily (a fresh scan per call). */
  *scan(): IterableIterator<VectorItem> {
    const stmt = this.store.db.prepare(
      `SELECT d.id, v.vector FROM main.documents d JOIN rg_emb.vectors v
       ON v.model = ? AND v.id = d.id AND v.content_hash = d.content_hash ORDER BY d.seq`,
    );
    for (const row of stmt.iterate(this.model) as IterableIterator<{ id: string; vector: Buffer }>) {
      yield { id: row.id, vector: toFloat32(row.vector) };
    }
  }

  /**
   * Documents with their cached vectors, `size` at a time (each page is read whole, so the caller may write to the
   * database between pages).
   */
  *pages(size: number): IterableIterator<Array<{ doc: StoredDocument; vector: Float32Array }>> {
    const page = this.store.db.prepare(
      `SELECT d.seq, d.id, d.title, d.text, d.metadata, d.content_hash, v.vector FROM main.documents d JOIN rg_emb.vectors v
       ON v.model = ? AND v.id = d.id AND v.content_hash = d.content_hash WHERE d.seq > ? ORDER BY d.seq LIMIT ?`,
    );
    let cursor = 0;
    for (;;) {
      const rows = page.all(this.model, cursor, size) as DocRow[];
      if (rows.length === 0) return;
      cursor = rows[rows.length - 1].seq;
      yield rows.map((r) => ({
        doc: { id: r.id, title: r.title, text: r.text, metadata: JSON.parse(r.metadata), contentHash: r.content_hash },
        vector: toFloat32(r.vector),
      }));
    }
  }
}

/** Copy: SQLite's buffer need not be 4-byte aligned for a Float32Array view. */
function toFloat32(bytes: Buffer): Float32Array {
  return new Float32Array(Uint8Array.from(bytes).buffer);
}
