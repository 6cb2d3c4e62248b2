import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { AugmentedRecord } from '@rg/augment';
import Database from 'better-sqlite3';
import type { JobState, JobStatus, JobStep, NewDocument } from './types.js';

export const JOBS_FILE = 'jobs.sqlite';

/** A document as its add job carries it: the id is settled when the job is recorded. */
export type JobDocument = Required<Pick<NewDocument, 'id' | 'text'>> & Pick<NewDocument, 'title' | 'metadata'>;

/** A job row with what the runner needs beyond its status. */
export interface JobRecord extends JobStatus {
  document: JobDocument;
  /** Steps already done, in JOB_STEPS order: the runner goes on at JOB_STEPS[completed]. */
  completed: number;
  /** The augment step's output, kept so that the encode step never has to redo it. */
  augmented?: AugmentedRecord;
  /** The process running it, while running. */
  owner?: number;
}

interface Row {
  id: string;
  kind: 'add';
  document_id: string;
  document: string;
  state: JobState;
  step: JobStep | null;
  completed: number;
  error: string | null;
  augmented: string | null;
  owner: number | null;
  created_at: string;
  updated_at: string;
}

/**
 * The collection's job table (SQLite, WAL, synchronous FULL: a job recorded is on disk when addDocument returns).
 * Every change is one statement or one transaction, so a process killed at any point leaves each row as it was
 * before or after the change. Deletions are recorded here too before they are carried out, and finished at the next
 * open if the process dies in between.
 */
export class JobStore {
  private readonly db: Database.Database;

  constructor(dir: string) {
    this.db = new Database(join(dir, JOBS_FILE));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 30000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        document_id TEXT NOT NULL,
        document TEXT NOT NULL,
        state TEXT NOT NULL,
        step TEXT,
        completed INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        augmented TEXT,
        owner INTEGER,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, seq);
      CREATE INDEX IF NOT EXISTS jobs_document ON jobs (document_id);
      CREATE TABLE IF NOT EXISTS deletions (document_id TEXT PRIMARY KEY, created_at TEXT NOT NULL);
    `);
  }

  /**
   * Records an add job, cancelling the document's earlier unfinished ones in the same transaction (the newest text
   * wins; a running one is stopped by the runner at its next check).
   */
  add(document: JobDocument): JobRecord {
    const now = new Date().toISOString();
    const id = randomUUID();
    this.db.transaction(() => {
      this.cancelFor(document.id, now);
      this.db.prepare('DELETE FROM deletions WHERE document_id = ?').run(document.id);
      this.db
        .prepare(
          `INSERT INTO jobs (id, kind, document_id, document, state, created_at, updated_at) VALUES (?, 'add', ?, ?, 'queued', ?, ?)`,
        )
        .run(id, document.id, JSON.stringify(document), now, now);
    })();
    return this.get(id)!;
  }

  get(id: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return row && fromRow(row);
  }

  /** Queued and running jobs, oldest first. */
  pending(): JobRecord[] {
    return (this.db.prepare(`SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY seq`).all() as Row[]).map(fromRow);
  }

  /** Jobs recorded in each state, every state present (0 when none). */
  countByState(): Record<JobState, number> {
    const counts: Record<JobState, number> = { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
    const rows = this.db.prepare('SELECT state, count(*) AS n FROM jobs GROUP BY state').all() as Array<{ state: JobState; n: number }>;
    for (const { state, n } of rows) counts[state] = n;
    return counts;
  }

  /** The newest unfinished add job of a document. */
  pendingFor(documentId: string): JobRecord | undefined {
    const row = this.db
      .prepare(`SELECT * FROM jobs WHERE document_id = ? AND state IN ('queued', 'running') ORDER BY seq DESC LIMIT 1`)
      .get(documentId) as Row | undefined;
    return row && fromRow(row);
  }

  /** The newest add job of a document, whatever its state. */
  latestFor(documentId: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE document_id = ? ORDER BY seq DESC LIMIT 1').get(documentId) as Row | undefined;
    return row && fromRow(row);
  }

  /** Takes the oldest queued job for this process; undefined when none is queued. */
  claim(): JobRecord | undefined {
    return this.db.transaction(() => {
      const row = this.db.prepare(`SELECT * FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1`).get() as Row | undefined;
      if (!row) return undefined;
      this.db
        .prepare(`UPDATE jobs SET state = 'running', owner = ?, updated_at = ? WHERE id = ?`)
        .run(process.pid, new Date().toISOString(), row.id);
      return fromRow({ ...row, state: 'running', owner: process.pid });
    })();
  }

  /**
   * Jobs left running by a process that is gone (killed, crashed) or by this one before a close go back to the
   * queue: each step is idempotent, so the job goes on at its first unfinished step.
   */
  requeueOrphans(): number {
    const running = this.db.prepare(`SELECT id, owner FROM jobs WHERE state = 'running'`).all() as Array<{
      id: string;
      owner: number | null;
    }>;
    const orphans = running.filter((r) => r.owner === null || r.owner === process.pid || !processAlive(r.owner));
    const requeue = this.db.prepare(`UPDATE jobs SET state = 'queued', owner = NULL, updated_at = ? WHERE id = ? AND state = 'running'`);
    const now = new Date().toISOString();
    this.db.transaction(() => {
      for (const o of orphans) requeue.run(now, o.id);
    })();
    return orphans.length;
  }

  /** The step about to run (recorded before it starts, so a failure names it). */
  startStep(id: string, step: JobStep): void {
    this.db.prepare(`UPDATE jobs SET step = ?, updated_at = ? WHERE id = ?`).run(step, new Date().toISOString(), id);
  }

  /** A step is done; the augment step also records its output. */
  finishStep(id: string, completed: number, augmented?: AugmentedRecord): void {
    this.db
      .prepare(`UPDATE jobs SET completed = ?, augmented = coalesce(?, augmented), updated_at = ? WHERE id = ?`)
      .run(completed, augmented ? JSON.stringify(augmented) : null, new Date().toISOString(), id);
  }

  /** Ends a running job (done or failed); a job cancelled meanwhile stays cancelled. */
  finish(id: string, state: 'done' | 'failed', error?: string): void {
    this.db
      .prepare(`UPDATE jobs SET state = ?, error = ?, owner = NULL, updated_at = ? WHERE id = ? AND state = 'running'`)
      .run(state, error ?? null, new Date().toISOString(), id);
  }

  /** Records that a document is to be deleted and cancels its unfinished jobs, in one transaction. */
  beginDeletion(documentId: string): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.cancelFor(documentId, now);
      this.db.prepare('INSERT OR REPLACE INTO deletions (document_id, created_at) VALUES (?, ?)').run(documentId, now);
    })();
  }

  endDeletion(documentId: string): void {
    this.db.prepare('DELETE FROM deletions WHERE document_id = ?').run(documentId);
  }

  /** Deletions recorded but not finished (the process died during one). */
  unfinishedDeletions(): string[] {
    return (this.db.prepare('SELECT document_id FROM deletions ORDER BY created_at').all() as Array<{ document_id: string }>).map(
      (r) => r.document_id,
    );
  }

  close(): void {
    this.db.close();
  }

  private cancelFor(documentId: string, now: string): void {
    this.db
      .prepare(`UPDATE jobs SET state = 'cancelled', owner = NULL, updated_at = ? WHERE document_id = ? AND state IN ('queued', 'running')`)
      .run(now, documentId);
  }
}

function fromRow(row: Row): JobRecord {
  return {
    id: row.id,
    kind: row.kind,
    documentId: row.document_id,
    state: row.state,
    step: row.step,
    ...(row.error !== null ? { error: row.error } : {}),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    document: JSON.parse(row.document) as JobDocument,
    completed: row.completed,
    ...(row.augmented !== null ? { augmented: JSON.parse(row.augmented) as AugmentedRecord } : {}),
    ...(row.owner !== null ? { owner: row.owner } : {}),
  };
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The public view of a job row. */
export function jobStatus(job: JobRecord): JobStatus {
  const { document: _document, completed: _completed, augmented: _augmented, owner: _owner, ...status } = job;
  return status;
}
