import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface RunCoordinates {
  model: string;
  rank: number;
  alpha: number;
  dataset: string;
  lr: number;
  epochs: number;
  method: string;
}

/**
 * `{root}/{model}/rank={r}_alpha={alpha}/{dataset}/lr={lr}_epoch={epochs}/{method}`: the layout of the paper's
 * outputs, beside the adapter store's own. Every name is escaped into one safe path segment.
 */
export function runDir(root: string, c: RunCoordinates): string {
  return join(
    root,
    pathSegment(c.model),
    `rank=${c.rank}_alpha=${c.alpha}`,
    pathSegment(c.dataset),
    `lr=${c.lr}_epoch=${c.epochs}`,
    pathSegment(c.method),
  );
}

/**
 * A name as one path segment: characters outside [A-Za-z0-9._-] become %XX (UTF-8), so no name can climb out
 * ("../x"), become absolute, or collide with another after escaping; "." and ".." are escaped whole.
 */
export function pathSegment(name: string): string {
  if (name === '') throw new Error('empty name cannot be a path segment');
  const escaped = Array.from(new TextEncoder().encode(name))
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9_-]/.test(c) || (c === '.' && b < 128) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
  return escaped === '.' || escaped === '..' ? escaped.replace(/\./g, '%2E') : escaped;
}

/** Write a file so that readers see the old content or the new one, never a part: temp file, fsync, rename. */
export function writeFileAtomic(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  // The rename itself is durable only once the directory is synced.
  const dfd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
