import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendName } from './open.js';

/**
 * What an index was built from: the store's generation (a counter every add/replace/delete
 * raises) and document count. A search compares it with the store to say when the index is stale,
 * instead of silently missing documents ingested after the build.
 */
export interface IndexStamp {
  backend: BackendName;
  generation: number;
  documents: number;
  builtAt: string;
}

function stampPath(storeDir: string, backend: BackendName): string {
  return join(storeDir, 'index', `${backend}.stamp.json`);
}

/** Written after a build is committed: temp file, fsync, rename, so a crash leaves the old stamp or the new. */
export function writeIndexStamp(storeDir: string, stamp: Omit<IndexStamp, 'builtAt'>): void {
  const path = stampPath(storeDir, stamp.backend);
  mkdirSync(join(storeDir, 'index'), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, `${JSON.stringify({ ...stamp, builtAt: new Date().toISOString() })}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** The stamp of the last build, or undefined for indexes built before stamps existed (or unreadable ones). */
export function readIndexStamp(storeDir: string, backend: BackendName): IndexStamp | undefined {
  try {
    return JSON.parse(readFileSync(stampPath(storeDir, backend), 'utf8')) as IndexStamp;
  } catch {
    return undefined;
  }
}

/** A sentence saying why the index no longer matches the store, or undefined when it does (or is unknown). */
export function staleIndexReason(
  storeDir: string,
  backend: BackendName,
  store: { generation: number; documents: number },
): string | undefined {
  const stamp = readIndexStamp(storeDir, backend);
  if (!stamp || stamp.generation === store.generation) return undefined;
  return (
    `the ${backend} index of ${storeDir} is stale: built from ${stamp.documents} documents, the store now holds ${store.documents} ` +
    `and changed since (generation ${stamp.generation} -> ${store.generation}); new or edited documents are missing from results: ` +
    `run \`rg index build --store ${storeDir} --backend ${backend}\``
  );
}
