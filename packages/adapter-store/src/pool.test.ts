import { describe, expect, it } from 'vitest';
import { ByteLru } from './lru.js';
import { BufferPool } from './pool.js';

describe('BufferPool', () => {
  it('hands back a given buffer of the same size, and keeps no slice, slab buffer or buffer over budget', () => {
    const pool = new BufferPool(300_000, 64 * 1024);
    const a = pool.take(100_000);
    expect(pool.give(a)).toBe(true);
    expect(pool.bytes).toBe(100_000);
    expect(pool.take(100_001)).not.toBe(a); // exact sizes only
    expect(pool.take(100_000)).toBe(a);
    expect(pool.bytes).toBe(0);
    expect(pool.give(a.subarray(0, 80_000))).toBe(false); // a view of a larger buffer
    expect(pool.give(Buffer.allocUnsafe(1000))).toBe(false); // under the floor (Node's shared slab)
    expect(pool.bytes).toBe(0);
    for (let i = 0; i < 4; i++) pool.give(Buffer.allocUnsafeSlow(100_000));
    expect(pool.bytes).toBe(300_000); // the fourth is over budget and left to the garbage collector
    pool.clear();
    expect(pool.bytes).toBe(0);
  });
});

describe('ByteLru', () => {
  it('evicts least recently used first and reports every value that leaves', () => {
    const gone: string[] = [];
    const lru = new ByteLru<string>(10, (v) => gone.push(v));
    lru.set('a', 'A', 4);
    lru.set('b', 'B', 4);
    lru.get('a');
    lru.set('c', 'C', 4); // over budget: b is the least recently used
    expect(gone).toEqual(['B']);
    lru.set('a', 'A2', 4); // replaced
    lru.set('big', 'BIG', 11); // never kept
    lru.delete('c');
    expect(gone).toEqual(['B', 'A', 'BIG', 'C']);
    lru.clear();
    expect(gone).toEqual(['B', 'A', 'BIG', 'C', 'A2']);
    expect(lru.bytes).toBe(0);
    expect(lru.size).toBe(0);
  });
});
