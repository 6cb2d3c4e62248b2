import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openManifest } from './manifest.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('openManifest', () => {
  it('waits out a locked database up to the busy timeout, then names the file and SQLite’s reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-manifest-'));
    dirs.push(dir);
    const path = join(dir, 'manifest.db');
    // Another connection holds an exclusive lock on a database still in rollback-journal mode: the WAL switch gets
    // SQLITE_BUSY (what a second process creating the same store sees), so opening must retry, then give up.
    const holder = new Database(path);
    holder.exec('CREATE TABLE t (x)');
    holder.exec('BEGIN EXCLUSIVE');
    const started = Date.now();
    try {
      expect(() => openManifest(path, 150)).toThrow(/manifest\.db: cannot open the adapter manifest \(database is locked\)/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    // Lock released: the same call opens it.
    const db = openManifest(path, 150);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });
});
