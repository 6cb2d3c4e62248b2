import { describe, expect, it } from 'vitest';
import { tinyLlamaConfig } from '../train/tiny-model.js';
import { modelFingerprint, modelKeyName } from './identity.js';

describe('model identity', () => {
  it('names a model by its known name, else by its file or folder', () => {
    expect(modelKeyName({ kind: 'gguf', path: '/home/u/.cache/rg/models/x.gguf', name: 'smollm2-135m-instruct' })).toBe(
      'smollm2-135m-instruct',
    );
    expect(modelKeyName({ kind: 'hf', path: '/models/tiny-llama' })).toBe('tiny-llama');
  });

  it('fingerprints the name and the architecture: same config same print, another config another', () => {
    const source = { kind: 'hf' as const, path: '/models/tiny-llama' };
    const a = modelFingerprint(tinyLlamaConfig(), source);
    expect(a).toMatch(/^tiny-llama:[0-9a-f]{16}$/);
    expect(modelFingerprint(tinyLlamaConfig(), { kind: 'hf', path: '/elsewhere/tiny-llama' })).toBe(a);
    expect(modelFingerprint(tinyLlamaConfig({ numLayers: 3 }), source)).not.toBe(a);
  });
});
