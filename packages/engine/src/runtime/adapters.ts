import type { LoraModule, LoraWeights } from '@rg/adapter-store';

/**
 * Concatenate adapters along the rank axis (PEFT's "cat" combination): A stacks rows, B stacks
 * columns, so x·Aᵀ·Bᵀ is the sum of the adapters' deltas. Scales are already folded into each B.
 * A module present in only some adapters gets the ranks of those.
 */
export function concatLora(adapters: readonly LoraWeights[]): LoraWeights {
  const keys = new Set(adapters.flatMap((a) => [...a.modules.keys()]));
  const modules = new Map<string, LoraModule>();
  for (const key of keys) {
    const parts = adapters.map((a) => a.modules.get(key)).filter((m): m is LoraModule => m !== undefined);
    const { inFeatures, outFeatures } = parts[0];
    for (const m of parts) {
      if (m.inFeatures !== inFeatures || m.outFeatures !== outFeatures)
        throw new Error(`concatLora: module '${key}' has different shapes across adapters`);
    }
    const rank = parts.reduce((s, m) => s + m.rank, 0);
    const a = new Float32Array(rank * inFeatures);
    const b = new Float32Array(outFeatures * rank);
    let r0 = 0;
    for (const m of parts) {
      a.set(m.a, r0 * inFeatures);
      for (let o = 0; o < outFeatures; o++) b.set(m.b.subarray(o * m.rank, (o + 1) * m.rank), o * rank + r0);
      r0 += m.rank;
    }
    modules.set(key, { rank, inFeatures, outFeatures, a, b });
  }
  const targets = [...new Set(adapters.flatMap((a) => a.targets))];
  return { rank: adapters.reduce((s, a) => s + a.rank, 0), targets, modules };
}
