import { describe, expect, it } from 'vitest';
import { GeneratorSettingsError, openGenerator } from './open-augmenter.js';
import { TemplateAugmenter } from './template.js';

const local = { model: 'smollm2-135m-instruct', home: '/nonexistent', threads: 1 };

describe('openGenerator', () => {
  it('opens the template generator with its wordings, without loading any model', async () => {
    const a = await openGenerator({ generator: 'template', qa: 2, phrasings: 2 }, local);
    expect(a).toBeInstanceOf(TemplateAugmenter);
  });

  it('refuses settings that do not go together before loading a model or calling a server, naming them', async () => {
    await expect(openGenerator({ generator: 'local', qa: 2, phrasings: 2 }, local)).rejects.toThrow(
      new GeneratorSettingsError('--phrasings is an option of --generator template (a model writes its own wordings)'),
    );
    await expect(openGenerator({ generator: 'openai', qa: 2, llmModel: 'm' }, local)).rejects.toThrow(
      '--generator openai needs --llm-url and --llm-model',
    );
    await expect(openGenerator({ generator: 'openai', qa: 2, llmUrl: 'localhost:8080', llmModel: 'm' }, local)).rejects.toThrow(
      '--llm-url: expected an http:// or https:// URL, got localhost:8080',
    );
  });
});
