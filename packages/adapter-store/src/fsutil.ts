import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
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
