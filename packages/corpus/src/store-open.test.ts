import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { CorpusStore, STORE_FILE } from './store.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('CorpusStore.open under another connection’s lock', () => {
  it('waits out a locked database up to the busy timeout, then names the file and SQLite’s reason; opens once it is free', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-corpus-lock-'));
    dirs.push(dir);
    // Another connection holds an exclusive lock on a database still in rollback-journal mode: the WAL switch gets
    // SQLITE_BUSY at once (what a second process creating the same store sees), so opening must retry, then give up.
    const holder = new Database(join(dir, STORE_FILE));
    holder.exec('CREATE TABLE t (x)');
    holder.exec('BEGIN EXCLUSIVE');
    const started = Date.now();
    try {
      expect(() => CorpusStore.open(dir, { busyTimeoutMs: 150 })).toThrow(
        /corpus\.sqlite: cannot open the corpus store \(database is locked\)/,
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    const store = CorpusStore.open(dir, { busyTimeoutMs: 150 });
    try {
      expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(store.db.pragma('busy_timeout', { simple: true })).toBe(150);
      expect(store.add([{ id: 'a', text: 'one document' }]).added).toBe(1);
    } finally {
      store.close();
    }
  });
});
