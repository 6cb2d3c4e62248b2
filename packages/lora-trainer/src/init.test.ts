import { tinyLlamaConfig } from '@rg/engine';
import { describe, expect, it } from 'vitest';
import { initAdapter } from './init.js';

describe('initAdapter', () => {
  const config = tinyLlamaConfig({ intermediateSize: 400 });
  it('draws A from U(-1/sqrt(in), 1/sqrt(in)) like PEFT, B zero, reproducibly', () => {
    const x = initAdapter(config, { rank: 4, alpha: 32, targets: ['down_proj', 'q_proj'], seed: 3 });
    const down = x.modules.get('1.down_proj');
    expect(down?.a.length).toBe(4 * 400);
    const bound = 1 / Math.sqrt(400);
    const a = Array.from(down?.a ?? []);
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(bound);
    // Uniform on [-b, b]: mean ~ 0, variance b²/3.
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(bound * 0.05);
    expect(variance / (bound ** 2 / 3)).toBeGreaterThan(0.9);
    expect(variance / (bound ** 2 / 3)).toBeLessThan(1.1);
    expect(down?.b.every((v) => v === 0)).toBe(true);
    expect(x.modules.size).toBe(2 * config.numLayers);
    expect(initAdapter(config, { rank: 4, alpha: 32, targets: ['down_proj', 'q_proj'], seed: 3 }).modules.get('0.q_proj')?.a).toEqual(
      x.modules.get('0.q_proj')?.a,
    );
    expect(initAdapter(config, { rank: 4, alpha: 32, targets: ['down_proj', 'q_proj'], seed: 4 }).modules.get('0.q_proj')?.a).not.toEqual(
      x.modules.get('0.q_proj')?.a,
    );
  });
});
