import { describe, expect, it } from 'vitest';
import { applyGradient, ComposeBuffers, composeCat, composeLinear, toLoraWeights } from './compose.js';
import { loraScale } from './peft.js';
import { deltaOf, maxAbsDiff, randomAdapter } from './testing.js';

describe('composeCat', () => {
  // Ranks 1, 2 and 4 take composeCat's unrolled paths, 3 the general one.
  it('k=4 adapters of different ranks and alphas: rank is the sum, delta W the sum of scaled weighted deltas', () => {
    const adapters = [randomAdapter(1, 2, 4), randomAdapter(2, 3, 16), randomAdapter(3, 1, 1), randomAdapter(4, 4, 8)];
    const weights = [1, 0.5, -2, 0.25];
    const cat = composeCat(adapters.map((adapter, i) => ({ adapter, weight: weights[i] })));
    expect(cat.rank).toBe(10);
    expect(cat.targets).toEqual(['down_proj', 'q_proj', 'v_proj']);
    for (const [key, m] of cat.modules) {
      expect(m.rank).toBe(10);
      const want = new Float64Array(m.outFeatures * m.inFeatures);
      adapters.forEach((ad, i) => {
        const d = deltaOf(ad.modules.get(key)!, ad.config.rank, loraScale(ad.config) * weights[i]);
        for (let j = 0; j < d.length; j++) want[j] += d[j];
      });
      expect(maxAbsDiff(deltaOf(m, 10), want)).toBeLessThan(1e-4);
    }
  });

  it('a module one adapter lacks contributes zero rows, so the other adapters still apply', () => {
    const full = randomAdapter(1);
    const partial = randomAdapter(2, 2, 4, { layers: 1, hidden: 8, intermediate: 12, targets: ['q_proj'] });
    const cat = composeCat([{ adapter: full }, { adapter: partial }]);
    const m = cat.modules.get('1.v_proj')!;
    expect(maxAbsDiff(deltaOf(m, 4), deltaOf(full.modules.get('1.v_proj')!, 2, 2))).toBeLessThan(1e-5);
  });

  it('refuses adapters of different models (module shapes differ), naming the module', () => {
    const big = randomAdapter(1, 2, 4, { layers: 1, hidden: 16, intermediate: 12, targets: ['q_proj'] });
    expect(() => composeCat([{ adapter: randomAdapter(1) }, { adapter: big }])).toThrow(
      /module 0.q_proj \[16 -> 16\].*\[8 -> 8\]: different models/,
    );
  });

  it('weights of 1/k over k copies of one adapter give that adapter’s delta (a mean of deltas)', () => {
    const ad = randomAdapter(7, 2, 16);
    const one = toLoraWeights(ad);
    for (const k of [2, 3, 5]) {
      const mean = composeCat(
        Array.from({ length: k }, () => ({ adapter: ad })),
        Array.from({ length: k }, () => 1 / k),
      );
      expect(mean.rank).toBe(2 * k);
      for (const [key, m] of one.modules) {
        expect(maxAbsDiff(deltaOf(mean.modules.get(key)!, 2 * k), deltaOf(m, 2))).toBeLessThan(1e-5);
      }
    }
  });

  it('weights multiply the entries’ own weights, and there must be one per entry', () => {
    const [a, b] = [randomAdapter(1), randomAdapter(2)];
    const weighted = composeCat([{ adapter: a, weight: 2 }, { adapter: b }], [0.25, 0.75]);
    const direct = composeCat([
      { adapter: a, weight: 0.5 },
      { adapter: b, weight: 0.75 },
    ]);
    for (const [key, m] of direct.modules) expect(weighted.modules.get(key)!.b).toEqual(m.b);
    // Without weights: the sum of the deltas, exactly as before.
    expect(composeCat([{ adapter: a }, { adapter: b }])).toEqual(composeCat([{ adapter: a }, { adapter: b }], [1, 1]));
    expect(() => composeCat([{ adapter: a }, { adapter: b }], [1])).toThrow(/1 weights for 2 adapters/);
  });

  it('rsLoRA adapters scale by alpha/sqrt(r)', () => {
    const ad = randomAdapter(4, 4, 8);
    ad.config.useRslora = true;
    const w = toLoraWeights(ad);
    expect(maxAbsDiff(deltaOf(w.modules.get('0.q_proj')!, 4), deltaOf(ad.modules.get('0.q_proj')!, 4, 8 / 2))).toBeLessThan(1e-5);
  });
});

describe('gradient-mode entries', () => {
  it('stand for base_weight - gamma * gradient', () => {
    const base = randomAdapter(10);
    const grad = randomAdapter(11);
    const gamma = 0.25;
    const cat = composeCat([{ base, gradient: grad, gamma, weight: 2 }]);
    for (const [key, m] of cat.modules) {
      const b = base.modules.get(key)!;
      const g = grad.modules.get(key)!;
      const stepped = { ...b, a: b.a.map((v, i) => v - gamma * g.a[i]), b: b.b.map((v, i) => v - gamma * g.b[i]) };
      expect(maxAbsDiff(deltaOf(m, 2), deltaOf(stepped, 2, 2 * 2))).toBeLessThan(1e-5);
    }
  });

  it('refuses a gradient of another rank', () => {
    expect(() => applyGradient(randomAdapter(1, 2, 4), randomAdapter(2, 3, 4), 1)).toThrow(
      /gradient has rank 3 alpha 4, its base_weight rank 2/,
    );
  });
});

describe('composeLinear', () => {
  it('needs one rank, and with one adapter equals it', () => {
    expect(() => composeLinear([{ adapter: randomAdapter(1, 2) }, { adapter: randomAdapter(2, 3) }])).toThrow(/adapter 1 has rank 3/);
    const ad = randomAdapter(5);
    const lin = composeLinear([{ adapter: ad, weight: 0.5 }]);
    expect(maxAbsDiff(deltaOf(lin.modules.get('1.down_proj')!, 2), deltaOf(ad.modules.get('1.down_proj')!, 2, 2 * 0.5))).toBeLessThan(1e-5);
  });
});

describe('ComposeBuffers', () => {
  const sameWeights = (x: ReturnType<typeof composeCat>, y: ReturnType<typeof composeCat>) => {
    expect([...x.modules.keys()]).toEqual([...y.modules.keys()]);
    for (const [key, m] of x.modules) {
      expect(Array.from(m.a)).toEqual(Array.from(y.modules.get(key)!.a));
      expect(Array.from(m.b)).toEqual(Array.from(y.modules.get(key)!.b));
    }
  };

  it('compositions into released arrays equal fresh ones, including zeros where an adapter lacks a module', () => {
    const buffers = new ComposeBuffers();
    const [a, b, c] = [randomAdapter(1), randomAdapter(2), randomAdapter(3)];
    const partial = randomAdapter(4, 2, 4, { layers: 1, hidden: 8, intermediate: 12, targets: ['q_proj'] });
    const first = composeCat([{ adapter: a }, { adapter: b }], [0.5, 0.5], buffers);
    sameWeights(first, composeCat([{ adapter: a }, { adapter: b }], [0.5, 0.5]));
    buffers.release(first);
    // Same lengths as the first: every array is reused, and the rows `partial` lacks must be zero, not stale.
    const second = composeCat([{ adapter: c }, { adapter: partial }], undefined, buffers);
    sameWeights(second, composeCat([{ adapter: c }, { adapter: partial }]));
    const stats = buffers.stats();
    expect(stats.reused).toBe(2 * first.modules.size);
    expect(stats.taken).toBe(4 * first.modules.size);
  });

  it('an array is handed out once however often its composition is released, and the pool keeps at most maxBytes', () => {
    const buffers = new ComposeBuffers();
    const weights = composeCat([{ adapter: randomAdapter(1) }], undefined, buffers);
    buffers.release(weights);
    buffers.release(weights);
    const arrays = [...weights.modules.values()].flatMap((m) => [m.a, m.b]);
    const taken = arrays.map((x) => buffers.take(x.length));
    expect(new Set(taken).size).toBe(taken.length);
    expect(taken.every((x) => arrays.includes(x))).toBe(true);

    const small = new ComposeBuffers(arrays[0].byteLength);
    small.release(weights);
    expect(small.stats().freeBytes).toBeLessThanOrEqual(arrays[0].byteLength);
  });

  it('shared: arrays in SharedArrayBuffers (for a worker thread), equal to plain ones', () => {
    const [a, b] = [randomAdapter(1), randomAdapter(2)];
    const shared = composeCat([{ adapter: a }, { adapter: b }], [0.5, 0.5], new ComposeBuffers(undefined, true));
    for (const m of shared.modules.values()) {
      expect(m.a.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(m.b.buffer).toBeInstanceOf(SharedArrayBuffer);
    }
    sameWeights(shared, composeCat([{ adapter: a }, { adapter: b }], [0.5, 0.5]));
  });
});
