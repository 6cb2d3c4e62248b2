import { createHash } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

/** Write a file and flush it to disk before returning. */
export function writeFileDurable(path: string, data: Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    let off = 0;
    while (off < data.byteLength) off += writeSync(fd, data, off, data.byteLength - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Flush a directory's entries (a rename or a new file inside it) to disk. */
export function fsyncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A folder holding `files`, each flushed, and the folder itself flushed. */
export function writeFolderDurable(dir: string, files: Record<string, Uint8Array>): void {
  mkdirSync(dir);
  for (const [name, data] of Object.entries(files)) writeFileDurable(join(dir, name), data);
  fsyncDir(dir);
}

/** mkdir -p, flushing the parent of each new folder so the new path survives a crash. */
export function mkdirDurable(dir: string): void {
  const first = mkdirSync(dir, { recursive: true });
  if (first === undefined) return;
  let d = dirname(first);
  fsyncDir(d);
  for (const part of relative(d, dir).split(sep)) {
    d = join(d, part);
    fsyncDir(d);
  }
}

/** Bytes per read of `readFileHashed`: large enough to keep the disk busy, small enough to overlap hashing. */
const HASHED_READ_CHUNK = 256 * 1024;

/**
 * Read a whole file and its sha256 together: the next chunk's read is in flight (libuv thread pool)
 * while the current chunk is hashed, so on a cold file the hash costs little more than the read.
 * The file's size is taken when it is opened; a file that grows meanwhile is read up to that size.
 * `alloc` gives the buffer to read into (e.g. one from a pool).
 */
export async function readFileHashed(
  path: string,
  alloc: (size: number) => Buffer = Buffer.allocUnsafe,
): Promise<{ bytes: Buffer; sha256: string }> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const bytes = alloc(size);
    const hash = createHash('sha256');
    const readAt = (off: number) => fh.read(bytes, off, Math.min(HASHED_READ_CHUNK, size - off), off);
    let off = 0;
    let pending = size > 0 ? readAt(0) : null;
    while (pending) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break; // shrank since stat: the length check downstream reports it
      const start = off;
      off += bytesRead;
      pending = off < size ? readAt(off) : null;
      hash.update(bytes.subarray(start, off));
    }
    return { bytes: off === size ? bytes : bytes.subarray(0, off), sha256: hash.digest('hex') };
  } finally {
    await fh.close();
  }
}

/** `readFileSync` into a buffer from `alloc`; a file that shrank meanwhile gives the bytes that were there. */
export function readFileInto(path: string, alloc: (size: number) => Buffer): Buffer {
  const fd = openSync(path, 'r');
  try {
    const { size } = fstatSync(fd);
    const bytes = alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, bytes, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return off === size ? bytes : bytes.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}
