import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { Checkpoint, FileIdentity } from './store.js';

/**
 * sha256 of a growing prefix of a file: `upTo(n)` reads only the bytes it has not hashed yet, so
 * checkpointing every batch costs one extra pass over the file in total (page-cache reads).
 */
export class PrefixHash {
  private readonly hash: Hash = createHash('sha256');
  private at = 0;
  private readonly buf = Buffer.allocUnsafe(1 << 20);

  constructor(private readonly path: string) {}

  upTo(end: number): string {
    if (end < this.at) throw new Error(`PrefixHash: ${this.path}: asked for ${end} bytes after hashing ${this.at}`);
    if (end > this.at) {
      const fd = openSync(this.path, 'r');
      try {
        while (this.at < end) {
          const n = readSync(fd, this.buf, 0, Math.min(this.buf.length, end - this.at), this.at);
          if (n === 0) throw new Error(`${this.path}: file ended at byte ${this.at} while hashing up to ${end} (changed during ingest?)`);
          this.hash.update(this.buf.subarray(0, n));
          this.at += n;
        }
      } finally {
        closeSync(fd);
      }
    }
    // copy(): the running hash goes on for the next checkpoint.
    return this.hash.copy().digest('hex');
  }

  identity(end: number): FileIdentity {
    const st = statSync(this.path);
    return { size: st.size, mtimeMs: st.mtimeMs, prefixSha256: this.upTo(end) };
  }
}

/** Where an ingest of `path` may go on from, given its previous checkpoint. */
export interface ResumeDecision {
  /** The bytes before `byteOffset` are the ones the checkpoint consumed: go on from there. */
  resume: boolean;
  /** Why the previous checkpoint cannot be used (the file changed, or an older rg wrote it). */
  restartReason?: string;
  /** The running prefix hash, already advanced to the resume offset when resuming. */
  hasher: PrefixHash;
}

/**
 * A checkpoint is tied to the file's content, not only its path: resuming at a byte offset is
 * valid only if every byte before it is unchanged (edited in place, replaced, or truncated files
 * otherwise lose or misread records). Size and mtime are reported, the prefix hash decides, so a
 * file that was only touched, or only appended to, still resumes.
 */
export function decideResume(path: string, previous: Checkpoint | undefined, opts: { lines: boolean }): ResumeDecision {
  const hasher = new PrefixHash(path);
  if (!previous || previous.byteOffset === 0) return { resume: false, hasher };
  const size = statSync(path).size;
  const was = previous.file;
  if (!was) {
    return { resume: false, hasher, restartReason: 'its checkpoint was written by an older rg without the file hash' };
  }
  const changes = describeChange(was, size, statSync(path).mtimeMs);
  if (previous.byteOffset > size) {
    return {
      resume: false,
      hasher,
      restartReason: `the file changed (${changes}; now shorter than the ${previous.byteOffset} bytes read before)`,
    };
  }
  if (hasher.upTo(previous.byteOffset) !== was.prefixSha256) {
    return {
      resume: false,
      hasher: new PrefixHash(path),
      restartReason: `the file changed (${changes}; its first ${previous.byteOffset} bytes differ)`,
    };
  }
  if (opts.lines && previous.done && previous.byteOffset < size && !endsWithNewline(path, previous.byteOffset)) {
    // The last line had no newline and the file grew: that line was extended, not followed by new ones.
    return {
      resume: false,
      hasher: new PrefixHash(path),
      restartReason: `the file changed (${changes}; its unfinished last line was extended)`,
    };
  }
  return { resume: true, hasher };
}

function endsWithNewline(path: string, end: number): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(1);
    return readSync(fd, b, 0, 1, end - 1) === 1 && b[0] === 0x0a;
  } finally {
    closeSync(fd);
  }
}

function describeChange(was: FileIdentity, size: number, mtimeMs: number): string {
  const parts = [size === was.size ? `size ${size} bytes` : `size ${was.size} -> ${size} bytes`];
  parts.push(mtimeMs === was.mtimeMs ? 'same mtime' : `modified ${new Date(mtimeMs).toISOString()}`);
  return parts.join(', ');
}
