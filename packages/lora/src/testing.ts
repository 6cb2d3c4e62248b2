import { moduleKey } from './lora.js';
import type { LoraAdapter, LoraPair } from './peft.js';

/** Deterministic pseudo-random numbers (mulberry32) in [-1, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

export interface TinyShape {
  layers: number;
  hidden: number;
  intermediate: number;
  targets: string[];
}

export const TINY: TinyShape = { layers: 2, hidden: 8, intermediate: 12, targets: ['q_proj', 'v_proj', 'down_proj'] };

function dims(shape: TinyShape, target: string): [number, number] {
  if (target === 'down_proj') return [shape.intermediate, shape.hidden];
  if (target === 'gate_proj' || target === 'up_proj') return [shape.hidden, shape.intermediate];
  return [shape.hidden, shape.hidden];
}

export function randomAdapter(seed: number, rank = 2, alpha = 4, shape: TinyShape = TINY): LoraAdapter {
  const next = rng(seed);
  const modules = new Map<string, LoraPair>();
  for (let layer = 0; layer < shape.layers; layer++) {
    for (const target of shape.targets) {
      const [inFeatures, outFeatures] = dims(shape, target);
      const a = Float32Array.from({ length: rank * inFeatures }, next);
      const b = Float32Array.from({ length: outFeatures * rank }, next);
      modules.set(moduleKey(layer, target), { inFeatures, outFeatures, a, b });
    }
  }
  return {
    config: { rank, alpha, targetModules: [...shape.targets].sort(), baseModel: 'tiny', useRslora: false, dropout: 0 },
    modules,
  };
}

/** delta W = B·A·scale in float64, [out, in] row-major: the independent reference for compositions. */
export function deltaOf(
  pair: { a: Float32Array; b: Float32Array; inFeatures: number; outFeatures: number },
  rank: number,
  scale = 1,
): Float64Array {
  const d = new Float64Array(pair.outFeatures * pair.inFeatures);
  for (let o = 0; o < pair.outFeatures; o++) {
    for (let i = 0; i < pair.inFeatures; i++) {
      let s = 0;
      for (let j = 0; j < rank; j++) s += pair.b[o * rank + j] * pair.a[j * pair.inFeatures + i];
      d[o * pair.inFeatures + i] = s * scale;
    }
  }
  return d;
}

export function maxAbsDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new Error(`length ${x.length} vs ${y.length}`);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}
