import type { VectorItem } from './vectors.js';

/** A small seeded generator for test data (xorshift32), so fixtures need no files. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

export function gaussian(next: () => number): number {
  const u = Math.max(next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
}

/** `blobs` Gaussian blobs of `perBlob` points in `dims` dimensions; centres far apart relative to `sigma`. */
export function makeBlobs(
  blobs: number,
  perBlob: number,
  dims: number,
  opts: { sigma?: number; spread?: number; seed?: number } = {},
): { items: VectorItem[]; label: Map<string, number> } {
  const next = rng(opts.seed ?? 1);
  const sigma = opts.sigma ?? 0.1;
  const spread = opts.spread ?? 10;
  const centres = Array.from({ length: blobs }, () => Array.from({ length: dims }, () => (next() * 2 - 1) * spread));
  const items: VectorItem[] = [];
  const label = new Map<string, number>();
  for (let b = 0; b < blobs; b++) {
    for (let i = 0; i < perBlob; i++) {
      const id = `doc-${b}-${i}`;
      items.push({ id, vector: Float32Array.from(centres[b], (c) => c + sigma * gaussian(next)) });
      label.set(id, b);
    }
  }
  // Interleave blobs so no test depends on them arriving grouped.
  const shuffled = items.map((it) => ({ it, r: next() })).sort((a, b) => a.r - b.r);
  return { items: shuffled.map((s) => s.it), label };
}
