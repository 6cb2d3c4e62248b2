import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelSource } from '../model/load.js';

/**
 * Where quantized (q8/q4) projections are kept between runs, so that a session over the same weights skips
 * quantizing them (~0.6 s and a pass over every fp32 weight for SmolLM2): `dir`, and `key`, what identifies the weights.
 */
export interface QuantCache {
  dir: string;
  key: string;
  /** What the weights belong to (a file path), when `key` changes as the file is replaced: older files are removed. */
  owner?: string;
}

// Bumped whenever the blocks' layout or the quantizer changes: files written before are then never read.
const LAYOUT_VERSION = 1;

/** RG_HOME/cache/quantized for a GGUF file, keyed by its path, size and modification time; none for other sources. */
export function quantCacheFor(source: ModelSource, home: string): QuantCache | undefined {
  if (source.kind !== 'gguf') return undefined;
  const st = statSync(source.path);
  return { dir: join(home, 'cache', 'quantized'), key: `${source.path}|${st.size}|${st.mtimeMs}`, owner: source.path };
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** `<owner and what>-<key>.bin`: the files of one owner's graph differ only after the dash. */
function ownerPrefix(cache: QuantCache, what: string): string {
  return `${hash(`${cache.owner ?? cache.key}|${what}`)}-`;
}

function cacheFile(cache: QuantCache, what: string): string {
  return join(cache.dir, `${ownerPrefix(cache, what)}${hash(`${cache.key}|${what}|v${LAYOUT_VERSION}`)}.bin`);
}

/** The bytes an earlier writeQuantCache kept for `what`, or undefined. */
export function readQuantCache(cache: QuantCache, what: string): Uint8Array | undefined {
  try {
    return readFileSync(cacheFile(cache, what));
  } catch {
    return undefined;
  }
}

/**
 * Keeps `data` for `what`: a temp file, fsynced, then renamed, so a crash leaves no part of a file to be read later.
 * A home that cannot be written is no error: the weights are quantized again next time.
 */
export function writeQuantCache(cache: QuantCache, what: string, data: Uint8Array): void {
  const path = cacheFile(cache, what);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(cache.dir, { recursive: true });
    const fd = openSync(tmp, 'w');
    try {
      for (let at = 0; at < data.byteLength; ) at += writeSync(fd, data, at, data.byteLength - at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    // The same file's weights from before it was replaced (another size or time): never read again.
    const prefix = ownerPrefix(cache, what);
    for (const name of readdirSync(cache.dir)) {
      if (name.startsWith(prefix) && name.endsWith('.bin') && join(cache.dir, name) !== path)
        rmSync(join(cache.dir, name), { force: true });
    }
  } catch {
    rmSync(tmp, { force: true });
  }
}
