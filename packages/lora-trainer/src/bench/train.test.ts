import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerSetupError } from '@rg/engine/bench';
import { writeTinyModel } from '@rg/engine/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { TRAIN_BENCH_DEFAULTS, type TrainBenchOptions, trainBench } from './train.js';

const root = mkdtempSync(join(tmpdir(), 'rg-bench-train-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sizes = { seq: 8, batch: 2, rank: 1, alpha: 4, targets: TRAIN_BENCH_DEFAULTS.targets, steps: 2, warmup: 1 };

describe('trainBench on the tiny model', () => {
  it('times the requested steps at the requested sizes; without a peer its ratios are null', async () => {
    const model = writeTinyModel(join(root, 'tiny-llama'));
    const r = await trainBench({ model, home: root, threads: 1, ...sizes, peer: null });
    expect(Object.keys(r)).toEqual(['model', 'seq', 'batch', 'rank', 'alpha', 'targets', 'steps', 'rg', 'peer', 'speedup', 'memoryRatio']);
    expect(r).toMatchObject({ model, seq: 8, batch: 2, rank: 1, alpha: 4, targets: ['gate_proj', 'up_proj', 'down_proj'], steps: 2 });
    expect(Object.keys(r.rg)).toEqual(['msPerStep', 'tokensPerSecond', 'ortShare', 'jsShare', 'sessionCreateMs', 'peakRssMb']);
    for (const x of [r.rg.msPerStep, r.rg.tokensPerSecond, r.rg.sessionCreateMs, r.rg.peakRssMb])
      expect(Number.isFinite(x) && x > 0).toBe(true);
    // 2 x 8 tokens a step.
    expect(r.rg.tokensPerSecond).toBeCloseTo(16 / (r.rg.msPerStep / 1000), 6);
    expect(r.rg.ortShare).toBeGreaterThan(0);
    expect(r.rg.ortShare).toBeLessThanOrEqual(1);
    expect(r.rg.jsShare).toBeCloseTo(1 - r.rg.ortShare, 12);
    expect(r).toMatchObject({ peer: null, speedup: null, memoryRatio: null });
  });

  it('a peer that is not installed fails before the model is even loaded', async () => {
    const options: TrainBenchOptions = {
      model: join(root, 'no-such-model'),
      home: root,
      threads: 1,
      ...sizes,
      peer: { python: join(root, 'venv/bin/python'), script: join(root, 'train_peer.py') },
    };
    await expect(trainBench(options)).rejects.toThrow(PeerSetupError);
    await expect(trainBench(options)).rejects.toThrow(`--python ${join(root, 'venv/bin/python')}: not found`);
  });
});
