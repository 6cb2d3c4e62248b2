/**
 * Crash-safe replacement of adapter folders. A new folder is written and flushed under .tmp, then renamed into
 * place; an existing one is first moved aside into .tmp with a durable note of where it came from. A writer that
 * dies mid-swap leaves only .tmp entries named with its pid, which `recover` rolls back or removes.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fsyncDir, writeFileDurable } from '@rg/lora';
import type Database from 'better-sqlite3';
import { FILES, type Row, sha256 } from './manifest.js';
import type { FileRecord } from './store-types.js';

export const TMP_DIR = '.tmp';

export class FolderSwap {
  readonly tmp: string;

  constructor(readonly root: string) {
    this.tmp = join(root, TMP_DIR);
  }

  tmpName(kind: 'new' | 'old'): string {
    return join(this.tmp, `${kind}.${process.pid}.${randomBytes(6).toString('hex')}`);
  }

  /** Move a live folder into .tmp, leaving a durable note of where it came from for recovery. */
  moveAside(rel: string): string {
    const aside = this.tmpName('old');
    writeFileDurable(`${aside}.target`, new TextEncoder().encode(rel));
    fsyncDir(this.tmp);
    renameSync(join(this.root, rel), aside);
    return aside;
  }

  dropAside(aside: string): void {
    rmSync(aside, { recursive: true, force: true });
    rmSync(`${aside}.target`, { force: true });
  }

  /** After a failed put: put the folders back as they were before it. */
  undo(staging: string, final: string, aside: string | null): void {
    if (!existsSync(staging) && existsSync(final)) renameSync(final, staging);
    if (aside && existsSync(aside) && !existsSync(final)) renameSync(aside, final);
    rmSync(staging, { recursive: true, force: true });
    if (aside) rmSync(`${aside}.target`, { force: true });
  }

  /**
   * Roll back what dead writers left in .tmp (holding the manifest lock, so no live writer is
   * mid-swap): staging folders are dropped; a folder moved aside goes back if the manifest still
   * points at its content, and is dropped otherwise.
   */
  recover(db: Database.Database, rowOf: (rel: string) => Row | undefined): void {
    db.transaction(() => {
      for (const name of readdirSync(this.tmp)) {
        const m = /^(new|old)\.(\d+)\.[0-9a-f]+(\.target)?$/.exec(name);
        if (m && (Number(m[2]) === process.pid || pidAlive(Number(m[2])))) continue;
        const path = join(this.tmp, name);
        if (!m || m[1] === 'new') {
          rmSync(path, { recursive: true, force: true });
          continue;
        }
        if (m[3]) {
          if (!existsSync(path.slice(0, -'.target'.length))) rmSync(path, { force: true });
          continue;
        }
        this.recoverAside(path, rowOf);
      }
    }).immediate();
  }

  private recoverAside(aside: string, rowOf: (rel: string) => Row | undefined): void {
    let rel: string;
    try {
      rel = readFileSync(`${aside}.target`, 'utf8');
    } catch {
      rmSync(aside, { recursive: true, force: true });
      return;
    }
    const row = rowOf(rel);
    const final = join(this.root, rel);
    const matches = (dir: string) => {
      if (!row || !existsSync(dir)) return false;
      const files = JSON.parse(row.files) as Record<string, FileRecord>;
      return FILES.every((f) => existsSync(join(dir, f)) && sha256(readFileSync(join(dir, f))) === files[f].sha256);
    };
    if (!matches(final) && matches(aside)) {
      rmSync(final, { recursive: true, force: true });
      renameSync(aside, final);
      fsyncDir(dirname(final));
    }
    this.dropAside(aside);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
