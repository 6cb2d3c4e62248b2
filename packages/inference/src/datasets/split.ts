import { seededRandom } from '@rg/engine';
import type { QaExample } from './types.js';

/**
 * Indices 0..n-1 shuffled by Fisher-Yates from the last index down (swap i with floor(random() * (i + 1))), with
 * `seededRandom(seed)`: the same n and seed give the same order on every machine.
 */
export function shuffledIndices(n: number, seed: number): number[] {
  const random = seededRandom(seed);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}

/**
 * PopQA has no official split, so rg fixes one and never changes it: the 1,000 questions in file order, shuffled
 * with `shuffledIndices(1000, POPQA_SPLIT.seed)`; the first `POPQA_SPLIT.dev` shuffled positions are `dev`, the
 * rest `test`; each keeps file order. Changing either number would mix the two splits of every earlier run. The seed
 * is not 0 (the default `--seed` of samples), or `--split all --sample 500 --seed 0` would be exactly the dev split.
 */
export const POPQA_SPLIT = { seed: 2024, dev: 500 } as const;

/** `examples` cut into dev (`dev` of them) and test by a seeded shuffle (see POPQA_SPLIT); both keep file order. */
export function seededSplit(examples: QaExample[], dev: number, seed: number): { dev: QaExample[]; test: QaExample[] } {
  const order = shuffledIndices(examples.length, seed);
  const inDev = new Set(order.slice(0, dev));
  return { dev: examples.filter((_, i) => inDev.has(i)), test: examples.filter((_, i) => !inDev.has(i)) };
}
