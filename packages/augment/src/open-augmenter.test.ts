import { describe, expect, it } from 'vitest';
import { FatalGeneratorError } from './generator.js';
import { defaultConcurrency, openAugmenter } from './open-augmenter.js';
import { TemplateAugmenter } from './template.js';

describe('openAugmenter', () => {
  it('builds the template augmenter with its wordings, and says how many passages each generator takes at once', async () => {
    const augmenter = await openAugmenter({ generator: 'template', phrasings: 2 }, { qaCount: 1 });
    expect(augmenter).toBeInstanceOf(TemplateAugmenter);
    const record = await augmenter.augment({ id: 'a', text: 'Edda Quist keeps the lighthouse on Varnholm Island.' }, { seed: 0 });
    expect(record.passageId).toBe('a');
    expect([defaultConcurrency('openai'), defaultConcurrency('local'), defaultConcurrency('template')]).toEqual([4, 1, 1]);
  });

  it('probes a server before any passage: one that does not answer fails at once', async () => {
    const spec = { generator: 'openai', url: 'http://127.0.0.1:9/v1', model: 'm', timeoutMs: 2000 } as const;
    await expect(openAugmenter(spec, { qaCount: 1 })).rejects.toBeInstanceOf(FatalGeneratorError);
  });
});
