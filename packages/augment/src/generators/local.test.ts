import { DEFAULT_MODEL, ensureModel } from '@rg/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FatalGeneratorError } from '../generator.js';
import { LocalGenerator } from './local.js';

describe('LocalGenerator on SmolLM2-135M-Instruct', () => {
  let gen: LocalGenerator;
  beforeAll(async () => {
    await ensureModel(); // pulled on first use
    gen = await LocalGenerator.load({ threads: 2 }); // q4 weights by default
  });
  afterAll(() => gen?.close());

  const question = [{ role: 'user' as const, content: 'What is the capital of France? Answer with one word.' }];

  it('answers through the chat template (greedy)', async () => {
    expect(gen.id).toBe(`local:${DEFAULT_MODEL}`);
    const text = await gen.generate(question, { temperature: 0, maxTokens: 6 });
    expect(text).toMatch(/Paris/);
    expect(text).not.toContain('<|im_end|>');
  });

  it('stops at a stop string, cutting the text before it', async () => {
    const full = await gen.generate(question, { temperature: 0, maxTokens: 6 });
    const cut = await gen.generate(question, { temperature: 0, maxTokens: 6, stop: ['Paris'] });
    expect(cut).toBe(full.slice(0, full.indexOf('Paris')).trim());
  });

  it('runs the exact f32 weights too, with the same greedy answer', async () => {
    // q4's 8-bit LM head once failed in onnxruntime ("Only 2b and 4b quantization is supported for unpacked
    // compute") when its zero points were floats; both formats must load and answer.
    const f32 = await LocalGenerator.load({ threads: 2, weightFormat: 'f32' });
    try {
      expect(await f32.generate(question, { temperature: 0, maxTokens: 6 })).toMatch(/Paris/);
    } finally {
      await f32.close();
    }
  }, 300_000); // a second session to build: minutes on a loaded machine

  it('samples reproducibly: same seed, same text; calls made at once are queued, not interleaved', async () => {
    const story = [{ role: 'user' as const, content: 'Write one sentence about a cat.' }];
    const opts = { temperature: 1, maxTokens: 12 };
    const [a, b, c] = await Promise.all([
      gen.generate(story, { ...opts, seed: 3 }),
      gen.generate(story, { ...opts, seed: 3 }),
      gen.generate(story, { ...opts, seed: 4 }),
    ]);
    expect(a).toBe(b);
    expect(a.length).toBeGreaterThan(0);
    expect(c).not.toBe(a);
  });
});

describe('LocalGenerator.load', () => {
  it('fails fatally, naming the file, when the model is missing', async () => {
    const err = await LocalGenerator.load({ model: '/nonexistent/model.gguf' }).catch((e) => e);
    expect(err).toBeInstanceOf(FatalGeneratorError);
    expect(err.message).toContain('/nonexistent/model.gguf');
  });
});
