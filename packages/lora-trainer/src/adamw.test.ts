import { describe, expect, it } from 'vitest';
import { AdamW } from './adamw.js';

describe('AdamW', () => {
  it('first step moves each weight by lr·sign(g) after decay, as torch.optim.AdamW does', () => {
    // Step 1: m̂ = g, v̂ = g², so the update is lr·g/(|g| + eps) on top of p·(1 - lr·wd).
    const p = Float32Array.of(1, -2, 0.5);
    const opt = new AdamW([p], { lr: 0.1 });
    opt.step([[0.3, -4, 0]]);
    expect(p[0]).toBeCloseTo(1 * (1 - 0.001) - 0.1 * (0.3 / (0.3 + 1e-8)), 6);
    expect(p[1]).toBeCloseTo(-2 * (1 - 0.001) + 0.1 * (4 / (4 + 1e-8)), 6);
    expect(p[2]).toBeCloseTo(0.5 * (1 - 0.001), 7);
  });

  it('matches a hand-unrolled second step with bias corrections', () => {
    const p = Float64Array.of(0.7);
    const opt = new AdamW([p], { lr: 0.01, betas: [0.8, 0.9], eps: 1e-6, weightDecay: 0.1 });
    opt.step([[2]]);
    opt.step([[-1]]);
    let q = 0.7;
    q = q * (1 - 0.001) - ((0.01 / 0.2) * (0.2 * 2)) / (Math.sqrt(0.1 * 4) / Math.sqrt(0.1) + 1e-6);
    const m2 = 0.8 * 0.4 + 0.2 * -1;
    const v2 = 0.9 * 0.4 + 0.1 * 1;
    q = q * (1 - 0.001) - ((0.01 / (1 - 0.64)) * m2) / (Math.sqrt(v2) / Math.sqrt(1 - 0.81) + 1e-6);
    expect(p[0]).toBeCloseTo(q, 12);
  });

  it('minimises a quadratic', () => {
    const p = Float64Array.of(3, -3);
    const opt = new AdamW([p], { lr: 0.05, weightDecay: 0 });
    for (let i = 0; i < 2000; i++) opt.step([[2 * (p[0] - 1), 2 * (p[1] + 0.5)]]);
    expect(p[0]).toBeCloseTo(1, 3);
    expect(p[1]).toBeCloseTo(-0.5, 3);
  });
});
