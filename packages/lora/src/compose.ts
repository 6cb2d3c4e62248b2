import type { LoraModule, LoraWeights } from './lora.js';
import { type LoraAdapter, type LoraPair, loraScale, parseModuleKey } from './peft.js';

/**
 * One adapter of a request's composition. A trained adapter is used as it is; a gradient-mode
 * entry stores the gradient of the loss with respect to the LoRA weights at the shared
 * base_weight, and stands for the adapter base_weight - gamma * gradient.
 */
export type CompositionEntry =
  | { adapter: LoraAdapter; weight?: number }
  | { base: LoraAdapter; gradient: LoraAdapter; gamma: number; weight?: number }
  /** Already in the engine's form (scale folded into B), e.g. an earlier composition. */
  | { weights: LoraWeights; weight?: number };

export class CompositionError extends Error {
  override name = 'CompositionError';
}

/** base - gamma * gradient, tensor by tensor (same rank, alpha and modules). */
export function applyGradient(base: LoraAdapter, gradient: LoraAdapter, gamma: number): LoraAdapter {
  if (base.config.rank !== gradient.config.rank || base.config.alpha !== gradient.config.alpha) {
    throw new CompositionError(
      `gradient has rank ${gradient.config.rank} alpha ${gradient.config.alpha}, its base_weight rank ${base.config.rank} alpha ${base.config.alpha}`,
    );
  }
  const modules = new Map<string, LoraPair>();
  for (const [key, g] of gradient.modules) {
    const b = base.modules.get(key);
    if (!b) throw new CompositionError(`gradient has module ${key} that its base_weight lacks`);
    if (b.a.length !== g.a.length || b.b.length !== g.b.length)
      throw new CompositionError(`module ${key}: gradient and base_weight shapes differ`);
    const a = new Float32Array(b.a.length);
    for (let i = 0; i < a.length; i++) a[i] = b.a[i] - gamma * g.a[i];
    const bb = new Float32Array(b.b.length);
    for (let i = 0; i < bb.length; i++) bb[i] = b.b[i] - gamma * g.b[i];
    modules.set(key, { inFeatures: b.inFeatures, outFeatures: b.outFeatures, a, b: bb });
  }
  for (const key of base.modules.keys()) {
    if (!modules.has(key)) modules.set(key, base.modules.get(key)!);
  }
  return { config: { ...base.config }, modules };
}

function resolve(entry: CompositionEntry): { adapter: LoraAdapter; weight: number } {
  if ('weights' in entry) return { adapter: asAdapter(entry.weights), weight: entry.weight ?? 1 };
  if ('gradient' in entry) return { adapter: applyGradient(entry.base, entry.gradient, entry.gamma), weight: entry.weight ?? 1 };
  return { adapter: entry.adapter, weight: entry.weight ?? 1 };
}

/** Engine-form weights as an adapter whose scale is 1 (alpha = rank): its B already carries the scale. */
function asAdapter(weights: LoraWeights): LoraAdapter {
  for (const [key, m] of weights.modules) {
    if (m.rank !== weights.rank) throw new CompositionError(`module ${key} has rank ${m.rank}, its set ${weights.rank}`);
  }
  const config = { rank: weights.rank, alpha: weights.rank, targetModules: weights.targets, baseModel: null, useRslora: false, dropout: 0 };
  return { config, modules: weights.modules };
}

/** Every module key of the entries with its [in, out], checking that the adapters agree on shapes. */
function moduleShapes(adapters: LoraAdapter[]): Map<string, { inFeatures: number; outFeatures: number }> {
  const shapes = new Map<string, { inFeatures: number; outFeatures: number }>();
  adapters.forEach((adapter, i) => {
    for (const [key, p] of adapter.modules) {
      const seen = shapes.get(key);
      if (!seen) shapes.set(key, { inFeatures: p.inFeatures, outFeatures: p.outFeatures });
      else if (seen.inFeatures !== p.inFeatures || seen.outFeatures !== p.outFeatures) {
        throw new CompositionError(
          `adapter ${i} has module ${key} [${p.inFeatures} -> ${p.outFeatures}], an earlier one [${seen.inFeatures} -> ${seen.outFeatures}]: different models`,
        );
      }
    }
  });
  return shapes;
}

function targetsOf(keys: Iterable<string>): string[] {
  return [...new Set([...keys].map((k) => parseModuleKey(k).target))].sort();
}

/**
 * Float32Arrays that compositions are written into and given back to once the request that used them is done.
 * A server composes k adapters (a few MB) for every request: fresh arrays each time make that garbage, and the
 * collections it causes, not the copying, are the slow tail of composition. The pool keeps at most `maxBytes`
 * of free arrays, by length (one model's compositions at one rank reuse the same lengths).
 */
export class ComposeBuffers {
  private readonly free = new Map<number, Float32Array[]>();
  // A composition released twice must not hand one array to two requests.
  private readonly isFree = new WeakSet<Float32Array>();
  private freeBytes = 0;
  private taken = 0;
  private reused = 0;

  /**
   * `shared`: arrays in SharedArrayBuffers, for a model whose sessions run in a worker thread: posting a composition
   * there then copies nothing on this thread (the worker copies it into its own arrays, off this thread).
   */
  constructor(
    private readonly maxBytes = 64 * 1024 * 1024,
    private readonly shared = false,
  ) {}

  /** An array of `length` floats: a released one if there is one (zeroed when `zero`), else a new (zero) one. */
  take(length: number, zero = true): Float32Array {
    this.taken++;
    const array = this.free.get(length)?.pop();
    if (!array) return this.shared ? new Float32Array(new SharedArrayBuffer(length * 4)) : new Float32Array(length);
    this.reused++;
    this.isFree.delete(array);
    this.freeBytes -= array.byteLength;
    if (zero) array.fill(0);
    return array;
  }

  /** Gives a composition's arrays back. Nothing may read `weights` afterwards: its arrays are rewritten. */
  release(weights: LoraWeights): void {
    for (const m of weights.modules.values()) {
      for (const array of [m.a, m.b]) {
        if (this.isFree.has(array)) continue;
        if (this.freeBytes + array.byteLength > this.maxBytes) return;
        this.isFree.add(array);
        const list = this.free.get(array.length) ?? [];
        list.push(array);
        this.free.set(array.length, list);
        this.freeBytes += array.byteLength;
      }
    }
  }

  /** Arrays taken and how many of them were reused (a pool that never reuses is a pool nobody releases to). */
  stats(): { taken: number; reused: number; freeBytes: number } {
    return { taken: this.taken, reused: this.reused, freeBytes: this.freeBytes };
  }
}

/**
 * PEFT's "cat" combination: A stacked along the rank axis, B side by side with each adapter's
 * scale (alpha / r) times its weight folded in. Rank is the sum of ranks, and B·A equals the sum
 * of the adapters' scaled, weighted deltas exactly. A module an adapter lacks gets zero rows.
 * `weights` (one per entry, e.g. 1/k each to average the deltas) multiply the entries' own weights:
 * weighting a delta B·A by w is scaling B by w. With `buffers`, the arrays come from (and should go back to) that
 * pool.
 */
export function composeCat(entries: CompositionEntry[], weights?: readonly number[], buffers?: ComposeBuffers): LoraWeights {
  if (weights && weights.length !== entries.length) throw new CompositionError(`${weights.length} weights for ${entries.length} adapters`);
  const parts = entries.map((entry, i) => {
    const part = resolve(entry);
    return weights ? { ...part, weight: part.weight * weights[i] } : part;
  });
  const rank = parts.reduce((s, p) => s + p.adapter.config.rank, 0);
  const shapes = moduleShapes(parts.map((p) => p.adapter));
  const modules = new Map<string, LoraModule>();
  for (const [key, { inFeatures, outFeatures }] of shapes) {
    // A reused buffer holds an earlier composition: zero it only where an adapter lacks this module (every other
    // element is written below).
    const lacking = parts.some((p) => !p.adapter.modules.has(key));
    const a = buffers ? buffers.take(rank * inFeatures, lacking) : new Float32Array(rank * inFeatures);
    const b = buffers ? buffers.take(outFeatures * rank, lacking) : new Float32Array(outFeatures * rank);
    let offset = 0;
    for (const { adapter, weight } of parts) {
      const r = adapter.config.rank;
      const p = adapter.modules.get(key);
      if (p) {
        a.set(p.a, offset * inFeatures);
        scaledColumns(b, rank, offset, p.b, r, outFeatures, weight * loraScale(adapter.config));
      }
      offset += r;
    }
    modules.set(key, { rank, inFeatures, outFeatures, a, b });
  }
  return { rank, targets: targetsOf(shapes.keys()), modules };
}

/**
 * Writes `src` ([rows, cols]) times `factor` into columns offset..offset+cols of `dst` ([rows, dstCols]): B of a cat
 * composition. Rank 1, 2 and 4 rows are written without the inner loop: with rows of 2 floats the loop's own cost
 * was most of the time (~3x slower per float on these CPUs), and this is most of a request's adapter work.
 */
function scaledColumns(
  dst: Float32Array,
  dstCols: number,
  offset: number,
  src: Float32Array,
  cols: number,
  rows: number,
  factor: number,
): void {
  let d = offset;
  if (cols === 2) {
    for (let s = 0, end = 2 * rows; s < end; s += 2, d += dstCols) {
      dst[d] = src[s] * factor;
      dst[d + 1] = src[s + 1] * factor;
    }
  } else if (cols === 1) {
    for (let s = 0; s < rows; s++, d += dstCols) dst[d] = src[s] * factor;
  } else if (cols === 4) {
    for (let s = 0, end = 4 * rows; s < end; s += 4, d += dstCols) {
      dst[d] = src[s] * factor;
      dst[d + 1] = src[s + 1] * factor;
      dst[d + 2] = src[s + 2] * factor;
      dst[d + 3] = src[s + 3] * factor;
    }
  } else {
    for (let s = 0, o = 0; o < rows; o++, d += dstCols) for (let j = 0; j < cols; j++) dst[d + j] = src[s++] * factor;
  }
}

/**
 * PEFT's "linear" combination of adapters of one rank: with c = weight·scale per adapter,
 * A = Σ sign(c)·sqrt(|c|)·A and B = Σ sqrt(|c|)·B. Its B·A has cross terms between adapters
 * (unlike cat): a rough approximation kept for parity with PEFT.
 */
export function composeLinear(entries: CompositionEntry[]): LoraWeights {
  const parts = entries.map(resolve);
  if (parts.length === 0) return { rank: 0, targets: [], modules: new Map() };
  const rank = parts[0].adapter.config.rank;
  parts.forEach(({ adapter }, i) => {
    if (adapter.config.rank !== rank)
      throw new CompositionError(`linear needs one rank: adapter ${i} has rank ${adapter.config.rank}, adapter 0 has ${rank}`);
  });
  const shapes = moduleShapes(parts.map((p) => p.adapter));
  const modules = new Map<string, LoraModule>();
  for (const [key, { inFeatures, outFeatures }] of shapes) {
    const a = new Float32Array(rank * inFeatures);
    const b = new Float32Array(outFeatures * rank);
    for (const { adapter, weight } of parts) {
      const p = adapter.modules.get(key);
      if (!p) continue;
      const c = weight * loraScale(adapter.config);
      const root = Math.sqrt(Math.abs(c));
      const fa = c < 0 ? -root : root;
      for (let i = 0; i < a.length; i++) a[i] += p.a[i] * fa;
      for (let i = 0; i < b.length; i++) b[i] += p.b[i] * root;
    }
    modules.set(key, { rank, inFeatures, outFeatures, a, b });
  }
  return { rank, targets: targetsOf(shapes.keys()), modules };
}

/** One adapter in the engine's form (scale and weight folded into B). */
export function toLoraWeights(adapter: LoraAdapter, weight = 1): LoraWeights {
  return composeCat([{ adapter, weight }]);
}
