import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { baseModelWarning, findNonFinite, findShapeMismatch, type ModelDims } from './check.js';
import type { AdapterDtype } from './dtype.js';
import { fsyncDir, mkdirDurable, readFileHashed, readFileInto, writeFolderDurable } from './fsutil.js';
import { type AdapterKey, adapterRelPath, type DocAdapterKey, describeKey, isDocKey } from './layout.js';
import { ByteLru } from './lru.js';
import { contentHashOf, FILES, MANIFEST_FILE, openManifest, type Row, rowToEntry, sha256, UPSERT_ROW } from './manifest.js';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_MODEL_FILE,
  AdapterFormatError,
  adapterBytes,
  decodePeftAdapter,
  encodePeftAdapter,
  type LoraAdapter,
  readPeftAdapter,
} from './peft.js';
import { BufferPool } from './pool.js';
import { SafetensorsError } from './safetensors.js';
import {
  type AdapterLease,
  AdapterStoreError,
  type ExportRecord,
  type FileRecord,
  type ImportOptions,
  type ListFilter,
  type LoadOptions,
  type ManifestEntry,
  type PutOptions,
  RG_ADAPTER_FILE,
  type StoreOptions,
  type VerifyResult,
} from './store-types.js';
import { FolderSwap } from './swap.js';

// The public types live in store-types.ts; importers of './store.js' keep finding them here.
export * from './store-types.js';

/** A manifest row found for a load, with the LRU's entry when it is still the row's content. */
interface Lookup {
  row: Row;
  name: string;
  cached?: Cached;
}

/**
 * An adapter in the LRU. Its file buffer (which its fp32 tensors view) goes back to the pool once it has left
 * the LRU and no lease holds it, unless a plain load handed the adapter out (`escaped`): that caller may keep it
 * for as long as it likes, so its memory is left to the garbage collector.
 */
interface Cached {
  adapter: LoraAdapter;
  contentHash: string;
  configText: string;
  /** The file buffer its fp32 tensors view. */
  buffer?: Buffer;
  /** Its tensors were widened (fp16, int8) into arrays of its own, which a later load can widen into again. */
  widened: boolean;
  pins: number;
  escaped: boolean;
  evicted: boolean;
}

/** Refuse non-finite weights (unless `values` is false) and, given the model's dimensions, modules that do not fit. */
function checkContents(adapter: LoraAdapter, name: string, model: ModelDims | undefined, values = true): void {
  const problem = (values ? findNonFinite(adapter) : undefined) ?? (model ? findShapeMismatch(adapter, model) : undefined);
  if (problem) throw new AdapterStoreError(problem.kind, `${name}: ${problem.message}`);
}

/**
 * A filesystem store of PEFT LoRA folders with a SQLite manifest. An adapter is visible only
 * through its manifest row, which is written in the same lock as the folder's final rename; every
 * read from disk checks the files against the sha256s of that row.
 */
export class AdapterStore {
  readonly root: string;
  private readonly db: Database.Database;
  private readonly swap: FolderSwap;
  private readonly cache: ByteLru<Cached>;
  private readonly pool: BufferPool;
  private readonly take = (size: number) => this.pool.take(size);
  /**
   * What a pooled buffer held when it was given back: its file's config and safetensors header, and the tensor
   * views of its decoded adapter. A file with the same config and header (every adapter of one model, rank and
   * dtype) read into that buffer reuses those views instead of parsing the header and making ~200 new arrays:
   * those objects outlived a few minor collections in the LRU, so each cold load used to add ~18 KB to V8's old
   * space, and the full collections that cleaned it up were the cold tail.
   */
  private readonly layouts = new WeakMap<Buffer, { configText: string; header: Buffer; adapter: LoraAdapter }>();
  /** Widened adapters out of use, whose arrays the next fp16 or int8 load writes into (bounded by `poolBytes`). */
  private readonly spares: LoraAdapter[] = [];
  private spareBytes = 0;
  private rowStatement: Database.Statement | undefined;
  private cacheHits = 0;
  private cacheMisses = 0;

  private constructor(root: string, opts: StoreOptions) {
    this.root = resolve(root);
    this.swap = new FolderSwap(this.root);
    const manifest = join(this.root, MANIFEST_FILE);
    if (existsSync(this.root) && !statSync(this.root).isDirectory())
      throw new AdapterStoreError('no_store', `${this.root}: is a file, expected an adapter store folder`);
    if (opts.create === false && !existsSync(manifest))
      throw new AdapterStoreError('no_store', `${this.root}: no adapter store here (no ${MANIFEST_FILE}); check --store (or RG_HOME)`);
    mkdirSync(this.swap.tmp, { recursive: true });
    this.pool = new BufferPool(opts.poolBytes ?? 64 * 1024 * 1024);
    this.cache = new ByteLru<Cached>(opts.cacheBytes ?? 256 * 1024 * 1024, (c) => {
      c.evicted = true;
      this.recycle(c);
    });
    this.db = openManifest(manifest, opts.busyTimeoutMs ?? 30_000);
  }

  /** Open (or create) a store; leftovers of writers that died mid-write are rolled back or removed. */
  static open(root: string, opts: StoreOptions = {}): AdapterStore {
    const store = new AdapterStore(root, opts);
    store.swap.recover(store.db, (rel) => store.row(rel));
    return store;
  }

  close(): void {
    this.db.close();
    this.cache.clear();
    this.pool.clear();
    this.spares.length = 0;
    this.spareBytes = 0;
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
    const row: Row = {
      path: rel,
      model: key.model,
      rank: key.rank,
      alpha: key.alpha,
      dataset: isDocKey(key) ? key.dataset : null,
      lr: isDocKey(key) ? key.lr : null,
      epochs: isDocKey(key) ? key.epochs : null,
      adapter_id: isDocKey(key) ? key.id : null,
      mode: opts.mode ?? 'trained',
      dtype,
      bytes: files[ADAPTER_CONFIG_FILE].bytes + files[ADAPTER_MODEL_FILE].bytes,
      files: JSON.stringify(files),
      content_hash: contentHashOf(files),
      model_fingerprint: opts.modelFingerprint,
      training_config: JSON.stringify(opts.trainingConfig ?? {}),
      created_at: new Date().toISOString(),
    };

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
    this.cache.delete(rel);
    return rowToEntry(row, this.root);
  }

  /** The manifest entry of a key, or undefined. */
  get(key: AdapterKey): ManifestEntry | undefined {
    const row = this.row(adapterRelPath(key));
    return row && rowToEntry(row, this.root);
  }

  /**
   * Load and verify an adapter (served from the LRU when the manifest still has the same content
   * hash). The result is shared with the LRU and its fp32 tensors view the file buffer: read-only.
   * It stays valid for as long as the caller keeps it (see `lease` for the path that recycles memory).
   */
  load(key: AdapterKey, opts: LoadOptions = {}): LoraAdapter {
    return this.entrySync(key, opts, false).adapter;
  }

  /**
   * `load` with the files read through libuv's thread pool, so that the k adapters of one request
   * are read from disk concurrently and each is hashed while it is read.
   */
  async loadAsync(key: AdapterKey, opts: LoadOptions = {}): Promise<LoraAdapter> {
    return (await this.entryAsync(key, opts, false)).adapter;
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
    const settled = await Promise.allSettled(keys.map((k) => this.entryAsync(k, opts, true)));
    const held = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) {
      this.unpin(held);
      throw failed.reason;
    }
    return this.leaseOf(held);
  }

  /** `lease` with the files read one after another, synchronously. */
  leaseSync(keys: AdapterKey[], opts: LoadOptions = {}): AdapterLease {
    const held: Cached[] = [];
    try {
      for (const k of keys) held.push(this.entrySync(k, opts, true));
    } catch (e) {
      this.unpin(held);
      throw e;
    }
    return this.leaseOf(held);
  }

  /** Bytes of file buffers kept for reuse. */
  get pooledBytes(): number {
    return this.pool.bytes;
  }

  /** Remove an adapter's manifest row and files (how a document is unlearned). False if absent. */
  delete(key: AdapterKey): boolean {
    const rel = adapterRelPath(key);
    const result = this.db
      .transaction((): { removed: boolean; aside: string | null } => {
        if (!this.row(rel)) return { removed: false, aside: null };
        const aside = existsSync(join(this.root, rel)) ? this.swap.moveAside(rel) : null;
        this.db.prepare('DELETE FROM adapters WHERE path = ?').run(rel);
        return { removed: true, aside };
      })
      .immediate();
    if (result.aside) this.swap.dropAside(result.aside);
    this.cache.delete(rel);
    return result.removed;
  }

  list(filter: ListFilter = {}): ManifestEntry[] {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    const add = (col: string, field: keyof ListFilter) => {
      if (filter[field] === undefined) return;
      where.push(`${col} = @${field}`);
      params[field] = filter[field];
    };
    add('model', 'model');
    add('rank', 'rank');
    add('alpha', 'alpha');
    add('dataset', 'dataset');
    add('adapter_id', 'id');
    const sql = `SELECT * FROM adapters ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY path`;
    return (this.db.prepare(sql).all(params) as Row[]).map((r) => rowToEntry(r, this.root));
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
      const adapter = this.readVerified(this.row(entry.relPath)!, name);
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
    this.cache.clear();
  }

  /**
   * Adapter loads of this handle (load, fetch, lease, sync or not) served from the LRU (`hits`) or read from disk
   * (`misses`, a replaced adapter's stale copy included), since it was opened.
   */
  get cacheStats(): { hits: number; misses: number } {
    return { hits: this.cacheHits, misses: this.cacheMisses };
  }

  get cachedBytes(): number {
    return this.cache.bytes;
  }

  /**
   * Copy an adapter's verified files into a new folder `dest`: a plain PEFT folder plus
   * rg_adapter.json (key, fingerprint, training config), which PEFT ignores and importFrom reads.
   */
  exportTo(key: AdapterKey, dest: string, opts: LoadOptions & { dtype?: AdapterDtype } = {}): ManifestEntry {
    const adapter = this.load(key, opts);
    const entry = this.get(key)!;
    if (existsSync(dest)) throw new AdapterStoreError('exists', `${dest} already exists: export writes a new folder`);
    let files: Record<string, Uint8Array>;
    if (!opts.dtype || opts.dtype === entry.dtype) {
      files = Object.fromEntries(FILES.map((f) => [f, readFileSync(join(entry.path, f))]));
    } else {
      const enc = encodePeftAdapter(adapter, opts.dtype);
      files = { [ADAPTER_CONFIG_FILE]: enc.config, [ADAPTER_MODEL_FILE]: enc.model };
    }
    const record: ExportRecord = {
      key: entry.key,
      modelFingerprint: entry.modelFingerprint,
      mode: entry.mode,
      trainingConfig: entry.trainingConfig,
      createdAt: entry.createdAt,
    };
    files[RG_ADAPTER_FILE] = new TextEncoder().encode(`${JSON.stringify(record, null, 2)}\n`);
    const target = resolve(dest);
    const staging = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.partial`;
    mkdirDurable(dirname(staging));
    writeFolderDurable(staging, files);
    renameSync(staging, target);
    fsyncDir(dirname(target));
    return entry;
  }

  /**
   * Put a PEFT LoRA folder into the store. Key, fingerprint and training config come from its
   * rg_adapter.json when it has one (an rg export); `given` fills in or overrides them.
   */
  importFrom(dir: string, given: ImportOptions = {}): ManifestEntry & { warnings: string[] } {
    const adapter = readPeftAdapter(dir);
    let record: Partial<ExportRecord> = {};
    const sidecar = join(dir, RG_ADAPTER_FILE);
    if (existsSync(sidecar)) {
      try {
        record = JSON.parse(readFileSync(sidecar, 'utf8'));
      } catch (e) {
        throw new AdapterFormatError(`${sidecar}: not valid JSON (${(e as Error).message})`);
      }
    }
    const key: Partial<DocAdapterKey> = { ...record.key, ...given.key };
    if (!key.model) throw new AdapterStoreError('bad_format', `${dir}: no model given and no ${RG_ADAPTER_FILE} naming one`);
    const fullKey = { ...key, rank: key.rank ?? adapter.config.rank, alpha: key.alpha ?? adapter.config.alpha } as AdapterKey;
    if (isDocKey(fullKey)) {
      for (const f of ['dataset', 'lr', 'epochs'] as const) {
        if (fullKey[f] === undefined) throw new AdapterStoreError('bad_format', `${dir}: importing id "${fullKey.id}" needs its ${f}`);
      }
    }
    const modelFingerprint = given.modelFingerprint ?? record.modelFingerprint;
    if (!modelFingerprint)
      throw new AdapterStoreError('wrong_model', `${dir}: no model fingerprint given and no ${RG_ADAPTER_FILE} holding one`);
    const name = `${dir} (adapter ${describeKey(fullKey)})`;
    checkContents(adapter, name, given.model);
    const warning = baseModelWarning(adapter, fullKey.model, name);
    const entry = this.put(fullKey, adapter, {
      modelFingerprint,
      trainingConfig: given.trainingConfig ?? record.trainingConfig,
      mode: given.mode ?? record.mode,
      dtype: given.dtype,
    });
    return { ...entry, warnings: warning ? [warning] : [] };
  }

  /** For a miss: where the same id does exist (another rank, alpha or run), to tell the caller. */
  private elsewhere(key: AdapterKey): string {
    if (!isDocKey(key)) return '';
    const rows = this.db.prepare('SELECT path FROM adapters WHERE adapter_id = ? AND model = ? LIMIT 3').all(key.id, key.model) as Row[];
    return rows.length ? ` (the store has this id under ${rows.map((r) => r.path).join(', ')})` : '';
  }

  private row(rel: string): Row | undefined {
    this.rowStatement ??= this.db.prepare('SELECT * FROM adapters WHERE path = ?');
    return this.rowStatement.get(rel) as Row | undefined;
  }

  /** The manifest row of a key (checked against the requested model), and the LRU's copy if still current. */
  private lookup(key: AdapterKey, opts: LoadOptions): Lookup {
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
    const found = this.cache.get(rel);
    const cached = found && found.contentHash === row.content_hash ? found : undefined;
    if (cached) this.cacheHits++;
    else this.cacheMisses++;
    return { row, name, cached };
  }

  /** An adapter's LRU entry, read and verified from disk on a miss; pinned for a lease, else marked escaped. */
  private entrySync(key: AdapterKey, opts: LoadOptions, pin: boolean): Cached {
    const hit = this.lookup(key, opts);
    if (hit.cached) return this.hold(this.fits(hit, hit.cached, opts), pin);
    const dir = join(this.root, hit.row.path);
    const data = Object.fromEntries(FILES.map((f) => [f, this.checkedFile(hit, f, () => readFileInto(join(dir, f), this.take))]));
    return this.decodeAndCache(hit, data, pin, opts);
  }

  /** `entrySync` with the files read concurrently, each hashed while it is read. */
  private async entryAsync(key: AdapterKey, opts: LoadOptions, pin: boolean): Promise<Cached> {
    // Hit or miss, the entry is pinned in the same tick it is found or made: no other load can run in between
    // and recycle it.
    const hit = this.lookup(key, opts);
    if (hit.cached) return this.hold(this.fits(hit, hit.cached, opts), pin);
    const dir = join(this.root, hit.row.path);
    const files = await Promise.all(
      FILES.map(async (f): Promise<[string, Buffer]> => {
        let read: { bytes: Buffer; sha256: string } | Error;
        try {
          read = await readFileHashed(join(dir, f), this.take);
        } catch (e) {
          read = e as Error;
        }
        // Hashed while it is read (chunk n hashed while chunk n+1 is in flight), and the request's
        // other files are read at the same time. (WebCrypto's digest in the thread pool measured
        // slower: it copies the buffer first.)
        if (read instanceof Error) return [f, this.checkedFile(hit, f, () => read)];
        return [f, this.checkedFile(hit, f, () => read.bytes, read.sha256)];
      }),
    );
    return this.decodeAndCache(hit, Object.fromEntries(files), pin, opts);
  }

  /** A cached adapter checked against the requested model's dimensions (cheap: one comparison per module). */
  private fits(hit: Lookup, c: Cached, opts: LoadOptions): Cached {
    if (opts.model) checkContents(c.adapter, hit.name, opts.model, false);
    return c;
  }

  private hold(c: Cached, pin: boolean): Cached {
    if (pin) c.pins++;
    else c.escaped = true;
    return c;
  }

  private unpin(held: Cached[]): void {
    for (const c of held) {
      c.pins--;
      this.recycle(c);
    }
  }

  private leaseOf(held: Cached[]): AdapterLease {
    let released = false;
    return {
      adapters: held.map((c) => c.adapter),
      release: () => {
        if (released) return;
        released = true;
        this.unpin(held);
      },
    };
  }

  /** An entry out of the LRU, held by no lease and never handed out unleased: its buffer can be reused. */
  private recycle(c: Cached): void {
    if (!c.evicted || c.pins > 0 || c.escaped) return;
    if (c.widened) {
      c.widened = false;
      const bytes = adapterBytes(c.adapter);
      if (this.spareBytes + bytes <= this.pool.maxBytes) {
        this.spares.push(c.adapter);
        this.spareBytes += bytes;
      }
    }
    if (!c.buffer) return;
    const buf = c.buffer;
    c.buffer = undefined;
    if (this.pool.give(buf) && !this.layouts.has(buf)) {
      // Its header is still intact: nothing reads into a pooled buffer before it is taken out again.
      const headerEnd = 8 + Number(buf.readBigUInt64LE(0));
      this.layouts.set(buf, { configText: c.configText, header: Buffer.from(buf.subarray(0, headerEnd)), adapter: c.adapter });
    }
  }

  private readVerified(row: Row, name: string): LoraAdapter {
    const hit = { row, name };
    const dir = join(this.root, row.path);
    const data = Object.fromEntries(FILES.map((f) => [f, this.checkedFile(hit, f, () => readFileSync(join(dir, f)))]));
    return this.decode(hit, data);
  }

  /**
   * One file of an adapter, checked against the manifest's size and sha256 (`digest` if the reader already hashed
   * it). `read` returns (or throws) the bytes or the read error.
   */
  private checkedFile(hit: Pick<Lookup, 'row' | 'name'>, f: string, read: () => Buffer | Error, digest?: string): Buffer {
    const { row, name } = hit;
    const dir = join(this.root, row.path);
    const want = (JSON.parse(row.files) as Record<string, FileRecord>)[f];
    let bytes: Buffer | Error;
    try {
      bytes = read();
    } catch (e) {
      bytes = e as Error;
    }
    if (bytes instanceof Error) {
      const code = (bytes as NodeJS.ErrnoException).code;
      throw new AdapterStoreError('missing_file', `${name}: cannot read ${f} in ${dir} (${code ?? bytes.message})`);
    }
    if (bytes.byteLength !== want.bytes) {
      throw new AdapterStoreError(
        bytes.byteLength < want.bytes ? 'truncated' : 'hash_mismatch',
        `${name}: ${f} has ${bytes.byteLength} bytes, the manifest recorded ${want.bytes} (${bytes.byteLength < want.bytes ? 'truncated' : 'modified'}) in ${dir}`,
      );
    }
    const got = digest ?? sha256(bytes);
    if (got !== want.sha256) {
      throw new AdapterStoreError(
        'hash_mismatch',
        `${name}: ${f} has sha256 ${got}, the manifest recorded ${want.sha256} (file modified) in ${dir}`,
      );
    }
    return bytes;
  }

  private decodeAndCache(hit: Lookup, data: Record<string, Buffer>, pin: boolean, opts: LoadOptions): Cached {
    const file = data[ADAPTER_MODEL_FILE];
    const configText = data[ADAPTER_CONFIG_FILE].toString('utf8');
    const known = this.layouts.get(file);
    let adapter: LoraAdapter;
    if (
      known &&
      known.adapter.config.rank === hit.row.rank &&
      known.configText === configText &&
      file.compare(known.header, 0, known.header.length, 0, known.header.length) === 0
    ) {
      // Same config, same tensor names, shapes and offsets, verified bytes: the old views see the new tensors.
      adapter = { config: known.adapter.config, modules: known.adapter.modules };
    } else {
      this.layouts.delete(file);
      const spare = hit.row.dtype === 'fp32' ? undefined : this.spares.pop();
      if (spare) this.spareBytes -= adapterBytes(spare);
      adapter = this.decode(hit, data, spare);
    }
    // Checked before it is cached: a NaN-filled or misshapen adapter is never handed out. The hashes
    // only prove the files are what was stored, and files imported by older versions were never checked.
    checkContents(adapter, hit.name, opts.model);
    // fp32 tensors view the file buffer; fp16 and int8 ones were widened into new arrays, so it is free at once.
    const viewed = [...adapter.modules.values()].some((p) => p.a.buffer === file.buffer || p.b.buffer === file.buffer);
    if (!viewed) this.pool.give(file);
    const cached: Cached = {
      adapter,
      contentHash: hit.row.content_hash,
      configText,
      buffer: viewed ? file : undefined,
      widened: !viewed,
      pins: pin ? 1 : 0,
      escaped: !pin,
      evicted: false,
    };
    this.cache.set(hit.row.path, cached, adapterBytes(adapter));
    return cached;
  }

  /** Verified files to an adapter, checking its format and rank against the manifest. */
  private decode(hit: Pick<Lookup, 'row' | 'name'>, data: Record<string, Buffer>, into?: LoraAdapter): LoraAdapter {
    const { row, name } = hit;
    const dir = join(this.root, row.path);
    let adapter: LoraAdapter;
    try {
      adapter = decodePeftAdapter(data[ADAPTER_CONFIG_FILE].toString('utf8'), data[ADAPTER_MODEL_FILE], dir, into);
    } catch (e) {
      if (e instanceof AdapterFormatError || e instanceof SafetensorsError)
        throw new AdapterStoreError('bad_format', `${name}: ${e.message}`);
      throw e;
    }
    if (adapter.config.rank !== row.rank) {
      throw new AdapterStoreError('wrong_rank', `${name}: its files hold rank ${adapter.config.rank}, the manifest says rank ${row.rank}`);
    }
    return adapter;
  }
}
