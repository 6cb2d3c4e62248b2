import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModel } from './load.js';

// A real transformers-written folder is 540 MB and needs Python to make, so this check runs only when
// one is given (tools/reference/export_smollm2_hf.py writes it); the tiny-config tests in hf.test.ts always run.
const dir = process.env.RG_SMOLLM2_HF_DIR;
if (!dir) console.log('hf-smollm2.test.ts skipped: set RG_SMOLLM2_HF_DIR to a folder from tools/reference/export_smollm2_hf.py');

describe.skipIf(!dir)('a Hugging Face folder written by transformers (SmolLM2 exported from the GGUF)', () => {
  it('loads to the same config, weights (bit for bit), tokenizer and chat template as the GGUF', async () => {
    const gguf = await loadModel('smollm2-135m-instruct', { pull: true });
    const hf = await loadModel(dir as string);
    expect(hf.source.kind).toBe('hf');
    expect(hf.config).toEqual(gguf.config);
    expect([...hf.weights.keys()].sort()).toEqual([...gguf.weights.keys()].sort());
    for (const [name, t] of gguf.weights) {
      const u = hf.weights.get(name)!;
      expect(u.dims, name).toEqual(t.dims);
      expect(
        Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(
          Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
        ),
        name,
      ).toBe(true);
    }
    const ref = JSON.parse(readFileSync(new URL('../../fixtures/gguf-reference.json', import.meta.url), 'utf8'));
    for (const { text, ids } of ref.tokenizer) expect(hf.tokenizer.encode(text, { addSpecialTokens: false }), text).toEqual(ids);
    expect(hf.tokenizer.applyChatTemplate(ref.chat.messages)).toBe(ref.chat.withGenerationPrompt);
  }, 120_000);
});
