import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainCheckpoint } from './trainer.js';

/**
 * A training run's checkpoint on disk, so a long group (the DAPT adapter over a whole corpus) that is interrupted
 * goes on from its last saved optimizer step. The file holds a fingerprint of everything the run depends on
 * (store key, documents, options, model); a checkpoint of another run is ignored.
 */
export class CheckpointFile {
  readonly path: string;

  constructor(
    dir: string,
    private readonly fingerprint: string,
  ) {
    // One file per run identity; the hash keeps any adapter id out of the path.
    this.path = join(dir, `${fingerprint.slice(0, 32)}.checkpoint.json`);
  }

  static fingerprintOf(run: unknown): string {
    return createHash('sha256').update(JSON.stringify(run)).digest('hex');
  }

  /** The saved state of this run, or undefined (none, another run's, or unreadable: training starts over). */
  load(): TrainCheckpoint | undefined {
    if (!existsSync(this.path)) return undefined;
    try {
      const saved = JSON.parse(readFileSync(this.path, 'utf8')) as SavedCheckpoint;
      if (saved.fingerprint !== this.fingerprint) return undefined;
      return {
        epoch: saved.epoch,
        batch: saved.batch,
        losses: saved.losses,
        tokens: saved.tokens,
        tensors: new Map(Object.entries(saved.tensors).map(([k, t]) => [k, { a: f32(t.a), b: f32(t.b) }])),
        optimizer: { t: saved.optimizer.t, m: saved.optimizer.m.map(f64), v: saved.optimizer.v.map(f64) },
      };
    } catch {
      return undefined;
    }
  }

  /** Written to a temp file, fsynced, then renamed over the previous one. */
  save(c: TrainCheckpoint): void {
    const saved: SavedCheckpoint = {
      fingerprint: this.fingerprint,
      epoch: c.epoch,
      batch: c.batch,
      losses: c.losses,
      tokens: c.tokens,
      tensors: Object.fromEntries([...c.tensors].map(([k, t]) => [k, { a: b64(t.a), b: b64(t.b) }])),
      optimizer: { t: c.optimizer.t, m: c.optimizer.m.map(b64), v: c.optimizer.v.map(b64) },
    };
    mkdirSync(join(this.path, '..'), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify(saved));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}

interface SavedCheckpoint {
  fingerprint: string;
  epoch: number;
  batch: number;
  losses: number[];
  tokens: number;
  tensors: Record<string, { a: string; b: string }>;
  optimizer: { t: number; m: string[]; v: string[] };
}

const b64 = (x: Float32Array | Float64Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64');
const bytes = (s: string) => {
  const b = Buffer.from(s, 'base64');
  // A copy: the typed array needs an aligned buffer of its own.
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
};
const f32 = (s: string) => new Float32Array(bytes(s));
const f64 = (s: string) => new Float64Array(bytes(s));
