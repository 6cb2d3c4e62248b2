import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADAPTER_CONFIG_FILE, ADAPTER_MODEL_FILE, type LoraAdapter, readFileHashed, readFileInto } from '@rg/lora';
import type Database from 'better-sqlite3';
import { type AdapterKey, adapterRelPath, describeKey, isDocKey } from './layout.js';
import { FILES, pathsOfId, type Row } from './manifest.js';
import type { AdapterMemory, Cached } from './memory.js';
import { AdapterStoreError, type LoadOptions } from './store-types.js';
import { checkContents, checkedFile, decodeStored } from './verify.js';

/** A manifest row found for a load, with the LRU's entry when it is still the row's content. */
interface Lookup {
  row: Row;
  name: string;
  cached?: Cached;
}

/**
 * The store's read path: a key's manifest row, the LRU's copy while it is still that row's content, else the
 * files read (sync, or concurrently through libuv's pool and hashed while read), checked against the row's
 * sha256s, decoded and cached. The writer (store.ts) only tells it which rows changed, through the LRU.
 */
export class AdapterReader {
  private rowStatement: Database.Statement | undefined;
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly root: string,
    private readonly db: Database.Database,
    private readonly memory: AdapterMemory,
  ) {}

  row(rel: string): Row | undefined {
    this.rowStatement ??= this.db.prepare('SELECT * FROM adapters WHERE path = ?');
    return this.rowStatement.get(rel) as Row | undefined;
  }

  get cacheStats(): { hits: number; misses: number } {
    return { hits: this.hits, misses: this.misses };
  }

  /** An adapter's LRU entry, read and verified from disk on a miss; pinned for a lease, else marked escaped. */
  entrySync(key: AdapterKey, opts: LoadOptions, pin: boolean): Cached {
    const hit = this.lookup(key, opts);
    if (hit.cached) return this.memory.hold(this.fits(hit, hit.cached, opts), pin);
    const dir = join(this.root, hit.row.path);
    const data = Object.fromEntries(
      FILES.map((f) => [f, checkedFile(this.root, hit, f, () => readFileInto(join(dir, f), this.memory.take))]),
    );
    return this.decodeAndCache(hit, data, pin, opts);
  }

  /** `entrySync` with the files read concurrently, each hashed while it is read. `counted`: false for warm(). */
  async entryAsync(key: AdapterKey, opts: LoadOptions, pin: boolean, counted = true): Promise<Cached> {
    // Hit or miss, the entry is pinned in the same tick it is found or made: no other load can run in between
    // and recycle it.
    const hit = this.lookup(key, opts, counted);
    if (hit.cached) return this.memory.hold(this.fits(hit, hit.cached, opts), pin);
    const dir = join(this.root, hit.row.path);
    const files = await Promise.all(
      FILES.map(async (f): Promise<[string, Buffer]> => {
        let read: { bytes: Buffer; sha256: string } | Error;
        try {
          read = await readFileHashed(join(dir, f), this.memory.take);
        } catch (e) {
          read = e as Error;
        }
        // Hashed while it is read (chunk n hashed while chunk n+1 is in flight), and the request's
        // other files are read at the same time. (WebCrypto's digest in the thread pool measured
        // slower: it copies the buffer first.)
        if (read instanceof Error) return [f, checkedFile(this.root, hit, f, () => read)];
        return [f, checkedFile(this.root, hit, f, () => read.bytes, read.sha256)];
      }),
    );
    return this.decodeAndCache(hit, Object.fromEntries(files), pin, opts);
  }

  /** A row's adapter read from disk, bypassing the LRU (verify). */
  readVerified(row: Row, name: string): LoraAdapter {
    const hit = { row, name };
    const dir = join(this.root, row.path);
    const data = Object.fromEntries(FILES.map((f) => [f, checkedFile(this.root, hit, f, () => readFileSync(join(dir, f)))]));
    return decodeStored(this.root, hit, data);
  }

  /** The manifest row of a key (checked against the requested model), and the LRU's copy if still current. */
  private lookup(key: AdapterKey, opts: LoadOptions, counted = true): Lookup {
    const rel = adapterRelPath(key);
    const row = this.row(rel);
    const name = `adapter ${describeKey(key)}`;
    if (!row) throw new AdapterStoreError('not_found', `${name}: not in the store at ${this.root}${this.elsewhere(key)}`);
    if (opts.modelFingerprint !== undefined && row.model_fingerprint !== opts.modelFingerprint) {
      throw new AdapterStoreError(
        'wrong_model',
        `${name}: trained for model fingerprint ${row.model_fingerprint}, not for the requested ${opts.modelFingerprint}`,
      );
    }
    const found = this.memory.cache.get(rel);
    const cached = found && found.contentHash === row.content_hash ? found : undefined;
    // warm()'s loads are not a request's.
    if (counted && cached) this.hits++;
    else if (counted) this.misses++;
    return { row, name, cached };
  }

  /** For a miss: where the same id does exist (another rank, alpha or run), to tell the caller. */
  private elsewhere(key: AdapterKey): string {
    const paths = isDocKey(key) ? pathsOfId(this.db, key.model, key.id) : [];
    return paths.length ? ` (the store has this id under ${paths.join(', ')})` : '';
  }

  /** A cached adapter checked against the requested model's dimensions (cheap: one comparison per module). */
  private fits(hit: Lookup, c: Cached, opts: LoadOptions): Cached {
    if (opts.model) checkContents(c.adapter, hit.name, opts.model, false);
    return c;
  }

  private decodeAndCache(hit: Lookup, data: Record<string, Buffer>, pin: boolean, opts: LoadOptions): Cached {
    const file = data[ADAPTER_MODEL_FILE];
    const configText = data[ADAPTER_CONFIG_FILE].toString('utf8');
    const adapter =
      this.memory.reuse(file, configText, hit.row.rank) ??
      decodeStored(this.root, hit, data, hit.row.dtype === 'fp32' ? undefined : this.memory.spare());
    // Checked before it is cached: a NaN-filled or misshapen adapter is never handed out. The hashes
    // only prove the files are what was stored, and files imported by older versions were never checked.
    checkContents(adapter, hit.name, opts.model);
    return this.memory.adopt(hit.row.path, adapter, file, configText, hit.row.content_hash, pin);
  }
}
