/** Least-recently-used cache bounded by a byte budget (a Map iterates in insertion order). */
export class ByteLru<V> {
  private readonly items = new Map<string, { value: V; bytes: number }>();
  private used = 0;

  constructor(readonly maxBytes: number) {}

  get(key: string): V | undefined {
    const item = this.items.get(key);
    if (!item) return undefined;
    this.items.delete(key);
    this.items.set(key, item);
    return item.value;
  }

  set(key: string, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.maxBytes) return;
    this.items.set(key, { value, bytes });
    this.used += bytes;
    for (const [k, item] of this.items) {
      if (this.used <= this.maxBytes) break;
      this.items.delete(k);
      this.used -= item.bytes;
    }
  }

  delete(key: string): void {
    const item = this.items.get(key);
    if (!item) return;
    this.items.delete(key);
    this.used -= item.bytes;
  }

  clear(): void {
    this.items.clear();
    this.used = 0;
  }

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.items.size;
  }
}
