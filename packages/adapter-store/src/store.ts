import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { AdapterDtype } from '@rg/lora';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_MODEL_FILE,
  encodePeftAdapter,
  fsyncDir,
  type LoraAdapter,
  mkdirDurable,
  writeFolderDurable,
} from '@rg/lora';
import type Database from 'better-sqlite3';
import { baseModelWarning } from './check.js';
import { exportAdapter, importAdapter } from './interchange.js';
import { type AdapterKey, adapterRelPath, describeKey } from './layout.js';
import { FILES, listRows, MANIFEST_FILE, manifestRow, openManifest, rowToEntry, sha256, UPSERT_ROW } from './manifest.js';
import { AdapterMemory, type Cached } from './memory.js';
import { AdapterReader } from './reader.js';
import {
  type AdapterLease,
  AdapterStoreError,
  type FileRecord,
  type ImportOptions,
  type ListFilter,
  type LoadOptions,
  type ManifestEntry,
  type PutOptions,
  type StoreOptions,
  type VerifyResult,
} from './store-types.js';
import { FolderSwap } from './swap.js';
import { checkContents } from './verify.js';

// The public types live in store-types.ts; importers of './store.js' keep finding them here.
export * from './store-types.js';

/**
 * A filesystem store of PEFT LoRA folders with a SQLite manifest. An adapter is visible only
 * through its manifest row, which is written in the same lock as the folder's final rename; every
 * read from disk checks the files against the sha256s of that row.
 */
export class AdapterStore {
  readonly root: string;
  private readonly db: Database.Database;
  private readonly swap: FolderSwap;
  private readonly memory: AdapterMemory;
  private readonly reader: AdapterReader;

  private constructor(root: string, opts: StoreOptions) {
    this.root = resolve(root);
    this.swap = new FolderSwap(this.root);
    const manifest = join(this.root, MANIFEST_FILE);
    if (existsSync(this.root) && !statSync(this.root).isDirectory())
      throw new AdapterStoreError('no_store', `${this.root}: is a file, expected an adapter store folder`);
    if (opts.create === false && !existsSync(manifest))
      throw new AdapterStoreError('no_store', `${this.root}: no adapter store here (no ${MANIFEST_FILE}); check --store (or RG_HOME)`);
    mkdirSync(this.swap.tmp, { recursive: true });
    this.memory = new AdapterMemory(opts.cacheBytes ?? 256 * 1024 * 1024, opts.poolBytes ?? 64 * 1024 * 1024);
    this.db = openManifest(manifest, opts.busyTimeoutMs ?? 30_000);
    this.reader = new AdapterReader(this.root, this.db, this.memory);
  }

  /** Open (or create) a store; leftovers of writers that died mid-write are rolled back or removed. */
  static open(root: string, opts: StoreOptions = {}): AdapterStore {
    const store = new AdapterStore(root, opts);
    store.swap.recover(store.db, (rel) => store.reader.row(rel));
    return store;
  }

  close(): void {
    this.db.close();
    this.memory.clear();
  }

  pathOf(key: AdapterKey): string {
    return join(this.root, adapterRelPath(key));
  }

  /** Write an adapter (replacing any previous one under the same key), durably and atomically. */
  put(key: AdapterKey, adapter: LoraAdapter, opts: PutOptions): ManifestEntry {
    const rel = adapterRelPath(key);
    const name = describeKey(key);
    if (adapter.config.rank !== key.rank) {
      throw new AdapterStoreError('wrong_rank', `adapter ${name}: has rank ${adapter.config.rank}, its key says rank ${key.rank}`);
    }
    if (adapter.config.alpha !== key.alpha) {
      throw new AdapterStoreError('wrong_rank', `adapter ${name}: has alpha ${adapter.config.alpha}, its key says alpha ${key.alpha}`);
    }
    if (!opts.modelFingerprint) throw new AdapterStoreError('wrong_model', `adapter ${name}: a model fingerprint is required`);
    // Nothing non-finite, or shaped for another model, is ever stored.
    checkContents(adapter, `adapter ${name}`, opts.model);
    const dtype = opts.dtype ?? 'fp32';
    const encoded = encodePeftAdapter(adapter, dtype);
    const content = { [ADAPTER_CONFIG_FILE]: encoded.config, [ADAPTER_MODEL_FILE]: encoded.model };
    const files: Record<string, FileRecord> = {};
    for (const f of FILES) files[f] = { bytes: content[f].byteLength, sha256: sha256(content[f]) };
    const row = manifestRow(rel, key, files, { ...opts, dtype });

    // The slow part (writing and flushing the files) happens outside the manifest lock.
    const staging = this.swap.tmpName('new');
    const final = join(this.root, rel);
    try {
      writeFolderDurable(staging, content);
      mkdirDurable(dirname(final));
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      throw e;
    }
    const asideHolder: { path: string | null } = { path: null };
    let aside: string | null;
    try {
      aside = this.db
        .transaction(() => {
          if (existsSync(final)) asideHolder.path = this.swap.moveAside(rel);
          renameSync(staging, final);
          fsyncDir(dirname(final));
          this.db.prepare(UPSERT_ROW).run(row);
          return asideHolder.path;
        })
        .immediate();
    } catch (e) {
      this.swap.undo(staging, final, asideHolder.path);
      throw e;
    }
    if (aside) this.swap.dropAside(aside);
    this.memory.cache.delete(rel);
    return rowToEntry(row, this.root);
  }

  /** The manifest entry of a key, or undefined. */
  get(key: AdapterKey): ManifestEntry | undefined {
    const row = this.reader.row(adapterRelPath(key));
    return row && rowToEntry(row, this.root);
  }

  /**
   * Load and verify an adapter (served from the LRU when the manifest still has the same content
   * hash). The result is shared with the LRU and its fp32 tensors view the file buffer: read-only.
   * It stays valid for as long as the caller keeps it (see `lease` for the path that recycles memory).
   */
  load(key: AdapterKey, opts: LoadOptions = {}): LoraAdapter {
    return this.reader.entrySync(key, opts, false).adapter;
  }

  /**
   * `load` with the files read through libuv's thread pool, so that the k adapters of one request
   * are read from disk concurrently and each is hashed while it is read.
   */
  async loadAsync(key: AdapterKey, opts: LoadOptions = {}): Promise<LoraAdapter> {
    return (await this.reader.entryAsync(key, opts, false)).adapter;
  }

  /** The k adapters of one request, in order. */
  fetch(keys: AdapterKey[], opts: LoadOptions = {}): LoraAdapter[] {
    return keys.map((k) => this.load(k, opts));
  }

  /** `fetch` with all files of the request read concurrently. */
  fetchAsync(keys: AdapterKey[], opts: LoadOptions = {}): Promise<LoraAdapter[]> {
    return Promise.all(keys.map((k) => this.loadAsync(k, opts)));
  }

  /**
   * `fetchAsync` for a request that uses the adapters and lets them go (what inference does: it composes them
   * into new arrays at once). Cold loads read into buffers that adapters leaving the LRU gave back, so a
   * server's steady state allocates almost no new memory per request and sets off no full garbage
   * collections (which were the cold p99). The adapters are valid until `release()`.
   */
  async lease(keys: AdapterKey[], opts: LoadOptions = {}): Promise<AdapterLease> {
    const settled = await Promise.allSettled(keys.map((k) => this.reader.entryAsync(k, opts, true)));
    const held = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) {
      this.memory.unpin(held);
      throw failed.reason;
    }
    return this.memory.leaseOf(held);
  }

  /** `lease` with the files read one after another, synchronously. */
  leaseSync(keys: AdapterKey[], opts: LoadOptions = {}): AdapterLease {
    const held: Cached[] = [];
    try {
      for (const k of keys) held.push(this.reader.entrySync(k, opts, true));
    } catch (e) {
      this.memory.unpin(held);
      throw e;
    }
    return this.memory.leaseOf(held);
  }

  /**
   * Read adapters into the in-memory LRU ahead of the requests that will use them (a server at start), so that
   * a request's first use of an adapter is not a disk read, a hash and a decode. Stops before the LRU is
   * `fill` (default 0.9) full, so that warming never evicts what it read; an adapter already cached costs nothing. An
   * adapter that fails to load is counted and left for the request to report. Warm reads are not counted in
   * `cacheStats`.
   */
  async warm(
    keys: Iterable<AdapterKey>,
    opts: LoadOptions & { fill?: number; signal?: AbortSignal } = {},
  ): Promise<{ adapters: number; failed: number; cachedBytes: number; complete: boolean }> {
    const budget = this.memory.cache.maxBytes * (opts.fill ?? 0.9);
    let adapters = 0;
    let failed = 0;
    let largest = 0;
    for (const key of keys) {
      if (opts.signal?.aborted || this.memory.cache.bytes + largest > budget)
        return { adapters, failed, cachedBytes: this.memory.cache.bytes, complete: false };
      const before = this.memory.cache.bytes;
      try {
        // Pinned and let go at once: the entry stays in the LRU with its buffer recyclable, as after a lease.
        const entry = await this.reader.entryAsync(key, opts, true, false);
        this.memory.unpin([entry]);
        adapters++;
      } catch {
        failed++;
      }
      largest = Math.max(largest, this.memory.cache.bytes - before);
    }
    return { adapters, failed, cachedBytes: this.memory.cache.bytes, complete: true };
  }

  /** Bytes of file buffers kept for reuse. */
  get pooledBytes(): number {
    return this.memory.pool.bytes;
  }

  /** Remove an adapter's manifest row and files (how a document is unlearned). False if absent. */
  delete(key: AdapterKey): boolean {
    const rel = adapterRelPath(key);
    const result = this.db
      .transaction((): { removed: boolean; aside: string | null } => {
        if (!this.reader.row(rel)) return { removed: false, aside: null };
        const aside = existsSync(join(this.root, rel)) ? this.swap.moveAside(rel) : null;
        this.db.prepare('DELETE FROM adapters WHERE path = ?').run(rel);
        return { removed: true, aside };
      })
      .immediate();
    if (result.aside) this.swap.dropAside(result.aside);
    this.memory.cache.delete(rel);
    return result.removed;
  }

  list(filter: ListFilter = {}): ManifestEntry[] {
    return listRows(this.db, filter).map((r) => rowToEntry(r, this.root));
  }

  /** Re-read an adapter from disk (bypassing the LRU) and check its files and format. */
  verify(key: AdapterKey, opts: LoadOptions = {}): VerifyResult {
    const entry = this.get(key);
    if (!entry) throw new AdapterStoreError('not_found', `adapter ${describeKey(key)}: not in the store at ${this.root}`);
    try {
      if (opts.modelFingerprint !== undefined && entry.modelFingerprint !== opts.modelFingerprint) {
        throw new AdapterStoreError('wrong_model', `adapter ${describeKey(key)}: trained for model fingerprint ${entry.modelFingerprint}`);
      }
      const name = `adapter ${describeKey(key)}`;
      const adapter = this.reader.readVerified(this.reader.row(entry.relPath)!, name);
      checkContents(adapter, name, opts.model);
      const warning = baseModelWarning(adapter, key.model, name);
      return { entry, ok: true, warnings: warning ? [warning] : [] };
    } catch (e) {
      if (!(e instanceof AdapterStoreError)) throw e;
      return { entry, ok: false, problem: e.problem, message: e.message, warnings: [] };
    }
  }

  /** Drop the in-memory LRU (the OS page cache is not affected); buffers only leases used go to the pool. */
  dropCache(): void {
    this.memory.cache.clear();
  }

  /**
   * Adapter loads of this handle (load, fetch, lease, sync or not) served from the LRU (`hits`) or read from disk
   * (`misses`, a replaced adapter's stale copy included), since it was opened.
   */
  get cacheStats(): { hits: number; misses: number } {
    return this.reader.cacheStats;
  }

  get cachedBytes(): number {
    return this.memory.cache.bytes;
  }

  /**
   * Copy an adapter's verified files into a new folder `dest`: a plain PEFT folder plus
   * rg_adapter.json (key, fingerprint, training config), which PEFT ignores and importFrom reads.
   */
  exportTo(key: AdapterKey, dest: string, opts: LoadOptions & { dtype?: AdapterDtype } = {}): ManifestEntry {
    return exportAdapter(this, key, dest, opts);
  }

  /**
   * Put a PEFT LoRA folder into the store. Key, fingerprint and training config come from its
   * rg_adapter.json when it has one (an rg export); `given` fills in or overrides them.
   */
  importFrom(dir: string, given: ImportOptions = {}): ManifestEntry & { warnings: string[] } {
    return importAdapter(this, dir, given);
  }
}
