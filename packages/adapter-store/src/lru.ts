/**
 * Least-recently-used cache bounded by a byte budget (a Map iterates in insertion order). `onEvict` hears of
 * every value that leaves: evicted, deleted, replaced, cleared, or too large to be kept at all.
 */
export class ByteLru<V> {
  private readonly items = new Map<string, { value: V; bytes: number }>();
  private used = 0;

  constructor(
    readonly maxBytes: number,
    private readonly onEvict?: (value: V) => void,
  ) {}

  get(key: string): V | undefined {
    const item = this.items.get(key);
    if (!item) return undefined;
    this.items.delete(key);
    this.items.set(key, item);
    return item.value;
  }

  set(key: string, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.maxBytes) {
      this.onEvict?.(value);
      return;
    }
    this.items.set(key, { value, bytes });
    this.used += bytes;
    for (const [k, item] of this.items) {
      if (this.used <= this.maxBytes) break;
      this.remove(k, item);
    }
  }

  delete(key: string): void {
    const item = this.items.get(key);
    if (item) this.remove(key, item);
  }

  clear(): void {
    for (const [k, item] of this.items) this.remove(k, item);
  }

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.items.size;
  }

  private remove(key: string, item: { value: V; bytes: number }): void {
    this.items.delete(key);
    this.used -= item.bytes;
    this.onEvict?.(item.value);
  }
}
