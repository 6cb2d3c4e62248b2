/** An entry ranked by `key`, ties broken by `id` so the result never depends on arrival order. */
export interface Ranked<T> {
  key: number;
  id: string;
  value: T;
}

function before<T>(a: Ranked<T>, b: Ranked<T>): boolean {
  return a.key < b.key || (a.key === b.key && a.id < b.id);
}

/**
 * Keeps the `capacity` entries with the smallest keys seen so far, in ascending order.
 * Used for the fit sample (keys from `sampleKey`) and for representatives (distance to the centroid, or `sampleKey`).
 */
export class BottomK<T> {
  readonly items: Ranked<T>[] = [];

  constructor(readonly capacity: number) {}

  /** Returns true when the entry was kept. */
  offer(entry: Ranked<T>): boolean {
    if (this.capacity <= 0) return false;
    const items = this.items;
    if (items.length === this.capacity && !before(entry, items[items.length - 1])) return false;
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(items[mid], entry)) lo = mid + 1;
      else hi = mid;
    }
    items.splice(lo, 0, entry);
    if (items.length > this.capacity) items.pop();
    return true;
  }
}
