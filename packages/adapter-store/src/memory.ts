import { adapterBytes, type LoraAdapter } from '@rg/lora';
import { ByteLru } from './lru.js';
import { BufferPool } from './pool.js';
import type { AdapterLease } from './store-types.js';

/**
 * An adapter in the LRU. Its file buffer (which its fp32 tensors view) goes back to the pool once it has left
 * the LRU and no lease holds it, unless a plain load handed the adapter out (`escaped`): that caller may keep it
 * for as long as it likes, so its memory is left to the garbage collector.
 */
export interface Cached {
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

/**
 * The store's memory: the LRU of decoded adapters, the pool of file buffers they leave behind, and the leases that
 * keep them from being reused while a request reads them.
 */
export class AdapterMemory {
  readonly cache: ByteLru<Cached>;
  readonly pool: BufferPool;
  readonly take = (size: number) => this.pool.take(size);
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

  constructor(cacheBytes: number, poolBytes: number) {
    this.pool = new BufferPool(poolBytes);
    this.cache = new ByteLru<Cached>(cacheBytes, (c) => {
      c.evicted = true;
      this.recycle(c);
    });
  }

  /** The adapter a pooled buffer held, if `file` (now read into it) has the same config and header. */
  reuse(file: Buffer, configText: string, rank: number): LoraAdapter | undefined {
    const known = this.layouts.get(file);
    if (
      known &&
      known.adapter.config.rank === rank &&
      known.configText === configText &&
      file.compare(known.header, 0, known.header.length, 0, known.header.length) === 0
    ) {
      // Same config, same tensor names, shapes and offsets, verified bytes: the old views see the new tensors.
      return { config: known.adapter.config, modules: known.adapter.modules };
    }
    this.layouts.delete(file);
    return undefined;
  }

  /** A widened adapter out of use, to decode an fp16 or int8 file into. */
  spare(): LoraAdapter | undefined {
    const spare = this.spares.pop();
    if (spare) this.spareBytes -= adapterBytes(spare);
    return spare;
  }

  /** Put a decoded (and checked) adapter into the LRU under `rel`, pinned for a lease or marked escaped. */
  adopt(rel: string, adapter: LoraAdapter, file: Buffer, configText: string, contentHash: string, pin: boolean): Cached {
    // fp32 tensors view the file buffer; fp16 and int8 ones were widened into new arrays, so it is free at once.
    const viewed = [...adapter.modules.values()].some((p) => p.a.buffer === file.buffer || p.b.buffer === file.buffer);
    if (!viewed) this.pool.give(file);
    const cached: Cached = {
      adapter,
      contentHash,
      configText,
      buffer: viewed ? file : undefined,
      widened: !viewed,
      pins: pin ? 1 : 0,
      escaped: !pin,
      evicted: false,
    };
    this.cache.set(rel, cached, adapterBytes(adapter));
    return cached;
  }

  hold(c: Cached, pin: boolean): Cached {
    if (pin) c.pins++;
    else c.escaped = true;
    return c;
  }

  unpin(held: Cached[]): void {
    for (const c of held) {
      c.pins--;
      this.recycle(c);
    }
  }

  leaseOf(held: Cached[]): AdapterLease {
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

  clear(): void {
    this.cache.clear();
    this.pool.clear();
    this.spares.length = 0;
    this.spareBytes = 0;
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
}
