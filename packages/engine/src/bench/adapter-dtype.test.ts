import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADAPTER_DTYPES } from '@rg/lora';
import { afterAll, describe, expect, it } from 'vitest';
import { writeTinyModel } from '../testing.js';
import { ADAPTER_DTYPE_BENCH_DEFAULTS, adapterDtypeBench } from './adapter-dtype.js';

const root = mkdtempSync(join(tmpdir(), 'rg-bench-adapter-dtype-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('adapterDtypeBench on the tiny model, random adapter', () => {
  it('gives each dtype its bytes and its change to the logits: none for fp32, fewer bytes for fp16', async () => {
    const model = writeTinyModel(join(root, 'tiny-llama'));
    const r = await adapterDtypeBench({ model, home: root, threads: 1, ...ADAPTER_DTYPE_BENCH_DEFAULTS });
    expect(Object.keys(r)).toEqual(['model', 'adapter', 'prompts', 'adapterVsBase', 'dtypes']);
    expect(r).toMatchObject({
      model,
      adapter: { random: true, rank: 2, alpha: 8, bStd: 0.02, seed: 1, targets: ['gate_proj', 'up_proj', 'down_proj'] },
      prompts: 4,
    });
    expect(Object.keys(r.dtypes)).toEqual([...ADAPTER_DTYPES]);
    expect(r.dtypes.fp32.vsFp32).toEqual({ maxAbsLogitDiff: 0, kl: 0, argmaxChanged: false });
    expect(r.dtypes.fp16.bytesPerAdapter).toBeLessThan(r.dtypes.fp32.bytesPerAdapter);
    // No int8 < fp16 here: on tensors this small, int8's per-row scale tensors and their header entries outweigh the byte
    // it saves per value.
    expect(r.dtypes.int8.bytesPerAdapter).toBeGreaterThan(0);
    // The adapter moves the logits; storing it in int8 moves them by less than the adapter itself does.
    expect(r.adapterVsBase.maxAbsLogitDiff).toBeGreaterThan(0);
    expect(r.dtypes.int8.vsFp32.maxAbsLogitDiff).toBeGreaterThan(0);
    expect(r.dtypes.int8.vsFp32.maxAbsLogitDiff).toBeLessThan(r.adapterVsBase.maxAbsLogitDiff);
  });
});
