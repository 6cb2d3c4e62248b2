import type { WeightFormat } from '@rg/engine';
import type { Augmenter } from './generator.js';
import { LocalGenerator } from './generators/local.js';
import { OpenAiGenerator } from './generators/openai.js';
import { type AugmentUnit, LlmAugmenter } from './llm-augmenter.js';
import { TemplateAugmenter } from './template.js';

/** What writes the augmented data: cloze templates, the local model, or an OpenAI-compatible server. */
export type AugmenterSpec =
  | { generator: 'template' /** Wordings of each passage (TemplateAugmenterOptions.phrasings). */; phrasings?: number }
  | { generator: 'local'; model: string; home?: string; threads?: number; weightFormat?: WeightFormat }
  | { generator: 'openai'; url: string; model: string; apiKey?: string; concurrency?: number; timeoutMs?: number };

export const GENERATORS = ['local', 'openai', 'template'] as const satisfies ReadonlyArray<AugmenterSpec['generator']>;

export interface OpenAugmenterOptions {
  /** Question/answer pairs per passage. */
  qaCount: number;
  /** Model generators: what one call works on (default: sentence for the small local model, passage for a server's). */
  unit?: AugmentUnit;
  temperature?: number;
  maxAttempts?: number;
}

/**
 * The augmenter of a spec, ready to run. A server is probed with one request first, so an endpoint that is down
 * fails now rather than after every passage's tries; the local model is loaded (FatalGeneratorError when it cannot
 * be, or has no chat template). Close it after the run (`augmenter.close`).
 */
export async function openAugmenter(spec: AugmenterSpec, options: OpenAugmenterOptions): Promise<Augmenter> {
  if (spec.generator === 'template') return new TemplateAugmenter({ qaCount: options.qaCount, phrasings: spec.phrasings });
  const llmOptions = {
    qaCount: options.qaCount,
    maxAttempts: options.maxAttempts,
    temperature: options.temperature,
    unit: options.unit ?? (spec.generator === 'local' ? 'sentence' : 'passage'),
  };
  if (spec.generator === 'openai') {
    const generator = new OpenAiGenerator({
      url: spec.url,
      model: spec.model,
      apiKey: spec.apiKey,
      concurrency: spec.concurrency ?? defaultConcurrency('openai'),
      timeoutMs: spec.timeoutMs,
    });
    await generator.probe();
    return new LlmAugmenter(generator, llmOptions);
  }
  const generator = await LocalGenerator.load({
    model: spec.model,
    home: spec.home,
    threads: spec.threads,
    weightFormat: spec.weightFormat,
  });
  return new LlmAugmenter(generator, llmOptions);
}

/** Passages in flight by default: a server takes several requests at once, a local model one. */
export function defaultConcurrency(generator: AugmenterSpec['generator']): number {
  return generator === 'openai' ? 4 : 1;
}
