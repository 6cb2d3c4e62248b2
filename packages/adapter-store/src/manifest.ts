/**
 * The manifest: one SQLite row per adapter (key, files and their sha256s, model fingerprint, training config). An
 * adapter is visible only through its row, written in the same transaction as its folder's final rename.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { AdapterDtype } from '@rg/lora';
import { ADAPTER_CONFIG_FILE, ADAPTER_MODEL_FILE } from '@rg/lora';
import Database from 'better-sqlite3';
import { type AdapterKey, isDocKey } from './layout.js';
import {
  type AdapterMode,
  AdapterStoreError,
  type FileRecord,
  type ListFilter,
  type ManifestEntry,
  type PutOptions,
} from './store-types.js';

export const MANIFEST_FILE = '.rg-manifest.sqlite';
export const FILES = [ADAPTER_CONFIG_FILE, ADAPTER_MODEL_FILE] as const;

/** A manifest row as SQLite returns it. */
export interface Row {
  path: string;
  model: string;
  rank: number;
  alpha: number;
  dataset: string | null;
  lr: number | null;
  epochs: number | null;
  adapter_id: string | null;
  mode: AdapterMode;
  dtype: AdapterDtype;
  bytes: number;
  files: string;
  content_hash: string;
  model_fingerprint: string;
  training_config: string;
  created_at: string;
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function contentHashOf(files: Record<string, FileRecord>): string {
  return sha256(
    Object.keys(files)
      .sort()
      .map((name) => `${name}:${files[name].sha256}\n`)
      .join(''),
  );
}

/** The manifest database; a file that is not one (or cannot be opened) fails naming its path. */
export function openManifest(path: string, busyTimeoutMs: number): Database.Database {
  // Two processes creating the same store at once: switching a new database to WAL can fail with SQLITE_BUSY at once,
  // without SQLite's busy handler (which waits for ordinary locks). Opening again after a short wait succeeds.
  const deadline = Date.now() + busyTimeoutMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    try {
      return openManifestOnce(path, busyTimeoutMs);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      const busy = typeof code === 'string' && code.startsWith('SQLITE_BUSY');
      if (busy && Date.now() + wait <= deadline) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
        continue;
      }
      throw new AdapterStoreError('no_store', `${path}: cannot open the adapter manifest (${(e as Error).message})`);
    }
  }
}

/** One try at opening the manifest; SQLite's own error (with its `code`) goes to the caller. */
function openManifestOnce(path: string, busyTimeoutMs: number): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    db.pragma('journal_mode = WAL');
    // FULL: a committed row survives power loss, as the adapter files it points to do.
    db.pragma('synchronous = FULL');
    db.exec(`CREATE TABLE IF NOT EXISTS adapters (
      path TEXT PRIMARY KEY,
      model TEXT NOT NULL, rank INTEGER NOT NULL, alpha REAL NOT NULL,
      dataset TEXT, lr REAL, epochs REAL, adapter_id TEXT,
      mode TEXT NOT NULL, dtype TEXT NOT NULL, bytes INTEGER NOT NULL,
      files TEXT NOT NULL, content_hash TEXT NOT NULL, model_fingerprint TEXT NOT NULL,
      training_config TEXT NOT NULL, created_at TEXT NOT NULL
    ) STRICT;
    CREATE INDEX IF NOT EXISTS adapters_by_id ON adapters(adapter_id);`);
    return db;
  } catch (e) {
    db?.close();
    throw e;
  }
}

/** Replace (or add) a row. */
export const UPSERT_ROW = `INSERT OR REPLACE INTO adapters VALUES (@path, @model, @rank, @alpha, @dataset, @lr, @epochs, @adapter_id,
               @mode, @dtype, @bytes, @files, @content_hash, @model_fingerprint, @training_config, @created_at)`;

/** The public entry of a row, its folder resolved under the store's root. */
export function rowToEntry(row: Row, root: string): ManifestEntry {
  const key: AdapterKey =
    row.adapter_id === null
      ? { model: row.model, rank: row.rank, alpha: row.alpha }
      : {
          model: row.model,
          rank: row.rank,
          alpha: row.alpha,
          dataset: row.dataset!,
          lr: row.lr!,
          epochs: row.epochs!,
          id: row.adapter_id,
        };
  return {
    key,
    path: join(root, row.path),
    relPath: row.path,
    mode: row.mode,
    dtype: row.dtype,
    bytes: row.bytes,
    files: JSON.parse(row.files),
    contentHash: row.content_hash,
    modelFingerprint: row.model_fingerprint,
    trainingConfig: JSON.parse(row.training_config),
    createdAt: row.created_at,
  };
}

/** The manifest rows matching `filter` (every given field equal), in path order. */
export function listRows(db: Database.Database, filter: ListFilter): Row[] {
  const columns: Array<[string, keyof ListFilter]> = [
    ['model', 'model'],
    ['rank', 'rank'],
    ['alpha', 'alpha'],
    ['dataset', 'dataset'],
    ['lr', 'lr'],
    ['epochs', 'epochs'],
    ['adapter_id', 'id'],
  ];
  const given = columns.filter(([, field]) => filter[field] !== undefined);
  const where = given.length ? `WHERE ${given.map(([col, field]) => `${col} = @${field}`).join(' AND ')}` : '';
  const params = Object.fromEntries(given.map(([, field]) => [field, filter[field]]));
  return db.prepare(`SELECT * FROM adapters ${where} ORDER BY path`).all(params) as Row[];
}

/** The manifest row of an adapter about to be stored under `rel`: its key, files, and what `put` was told. */
export function manifestRow(
  rel: string,
  key: AdapterKey,
  files: Record<string, FileRecord>,
  opts: PutOptions & { dtype: AdapterDtype },
): Row {
  const doc = isDocKey(key) ? key : undefined;
  return {
    path: rel,
    model: key.model,
    rank: key.rank,
    alpha: key.alpha,
    dataset: doc?.dataset ?? null,
    lr: doc?.lr ?? null,
    epochs: doc?.epochs ?? null,
    adapter_id: doc?.id ?? null,
    mode: opts.mode ?? 'trained',
    dtype: opts.dtype,
    bytes: files[ADAPTER_CONFIG_FILE].bytes + files[ADAPTER_MODEL_FILE].bytes,
    files: JSON.stringify(files),
    content_hash: contentHashOf(files),
    model_fingerprint: opts.modelFingerprint,
    training_config: JSON.stringify(opts.trainingConfig ?? {}),
    created_at: new Date().toISOString(),
  };
}

/** Up to three folders holding a document id for `model` (under another rank, alpha or run): to name them on a miss. */
export function pathsOfId(db: Database.Database, model: string, id: string): string[] {
  const rows = db.prepare('SELECT path FROM adapters WHERE adapter_id = ? AND model = ? LIMIT 3').all(id, model) as Row[];
  return rows.map((r) => r.path);
}
