/**
 * File buffers kept for reuse, by exact size. Every new Buffer of an adapter file's size (~1.5 MB for SmolLM2
 * rank 2) counts as external memory to V8, and ~64 MB of new external memory starts a full mark-compact: with
 * fresh buffers, a cold fetch of k = 3 adapters paid for a collection every few requests (the cold p99). The
 * adapters of one store mostly share one file size, so a buffer given back when its adapter leaves the LRU is
 * what the next cold load needs.
 */
export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private held = 0;

  /** Buffers smaller than `minBytes` come from Node's shared slab and are never pooled. */
  constructor(
    readonly maxBytes: number,
    readonly minBytes = 64 * 1024,
  ) {}

  /** A buffer of exactly `size` bytes, reused when one is free; its contents are garbage. */
  take(size: number): Buffer {
    const list = this.free.get(size);
    const buf = list?.pop();
    if (buf) {
      this.held -= size;
      return buf;
    }
    return size < this.minBytes ? Buffer.allocUnsafe(size) : Buffer.allocUnsafeSlow(size);
  }

  /** Hand a buffer back; false if the pool did not keep it. Whoever gives it must hold no view of it any more. */
  give(buf: Buffer): boolean {
    const size = buf.byteLength;
    // Only whole, unshared buffers: a slice of a larger buffer or of the slab may not be reused.
    if (size < this.minBytes || buf.byteOffset !== 0 || buf.buffer.byteLength !== size) return false;
    if (this.held + size > this.maxBytes) return false;
    const list = this.free.get(size);
    if (list) list.push(buf);
    else this.free.set(size, [buf]);
    this.held += size;
    return true;
  }

  clear(): void {
    this.free.clear();
    this.held = 0;
  }

  get bytes(): number {
    return this.held;
  }
}
