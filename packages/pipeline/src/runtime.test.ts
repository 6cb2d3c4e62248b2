import { afterAll, describe, expect, it } from 'vitest';
import { tinyRuntime } from './test-helpers/fixtures.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

describe('loadRuntime weightFormat', () => {
  it('answers with 8-bit projection weights when asked: near the f32 runtime, not equal to it; f32 by default', async () => {
    // Wide enough for blocks of 32 (at the tiny model's hidden 16 nothing would be quantized).
    const shape = { hiddenSize: 64, intermediateSize: 96, headDim: 16 };
    const f32 = await tinyRuntime('weights-f32', {}, shape);
    const q8 = await tinyRuntime('weights-q8', { weightFormat: 'q8' }, shape);
    cleanups.push(f32.cleanup, q8.cleanup);
    expect(f32.runtime.weightFormat).toBe('f32');
    expect(q8.runtime.weightFormat).toBe('q8');
    const messages = [{ role: 'user' as const, content: 'Who keeps the lighthouse on Varnholm Island?' }];
    const continuations = ['Edda Quist', 'Halvard Menst', 'October'];
    const score = (r: typeof f32) => r.runtime.answerModel.continuationLogLikelihoods!(messages, continuations, { adapters: null });
    const [exact, eight] = [await score(f32), await score(q8)];
    const spread = Math.max(...exact) - Math.min(...exact) || 1;
    for (const [i, e] of exact.entries()) expect(Math.abs(eight[i] - e)).toBeLessThan(0.1 * Math.max(spread, Math.abs(e)));
    expect(eight).not.toEqual(exact);
  });

  it('batched: the batched graph is made while loading, and answers as before', async () => {
    const t = await tinyRuntime('batched', { batched: true });
    cleanups.push(t.cleanup);
    const messages = [{ role: 'user' as const, content: 'Who keeps the lighthouse?' }];
    const [a] = await t.runtime.answerModel.continuationLogLikelihoods!(messages, ['Edda'], { adapters: null });
    expect(Number.isFinite(a)).toBe(true);
  });
});
