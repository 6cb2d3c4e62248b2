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

/** Generator settings as a person gives them (rg augment's and rg bench e2e's flags, a script's options). */
export interface GeneratorSettings {
  generator: AugmenterSpec['generator'];
  /** Question/answer pairs per passage. */
  qa: number;
  /** Template generator only: wordings of each passage. */
  phrasings?: number;
  /** openai: requests in flight. */
  concurrency?: number;
  unit?: AugmentUnit;
  /** local: the model's projection weights (default q4: augmenting is generation, where speed matters). */
  weights?: WeightFormat;
  temperature?: number;
  maxAttempts?: number;
  /** openai: base URL of an OpenAI-compatible API, the model name, the timeout per request in seconds (default 120). */
  llmUrl?: string;
  llmModel?: string;
  llmTimeout?: number;
}

/** Generator settings that do not go together (named as rg augment's flags): the caller's to fix. */
export class GeneratorSettingsError extends Error {
  override name = 'GeneratorSettingsError';
}

/**
 * The settings checked, then openAugmenter: `local` gives the model, its home and threads; the openai generator's
 * key comes from `env.RG_LLM_API_KEY` (never from settings, which end up in logs and figures).
 */
export async function openGenerator(
  s: GeneratorSettings,
  local: { model: string; home: string; threads: number },
  env: Record<string, string | undefined> = {},
): Promise<Augmenter> {
  const options = { qaCount: s.qa, maxAttempts: s.maxAttempts, temperature: s.temperature, unit: s.unit };
  if (s.generator === 'template') return openAugmenter({ generator: 'template', phrasings: s.phrasings }, options);
  if (s.phrasings !== undefined)
    throw new GeneratorSettingsError('--phrasings is an option of --generator template (a model writes its own wordings)');
  if (s.generator === 'openai') {
    if (!s.llmUrl || !s.llmModel) throw new GeneratorSettingsError('--generator openai needs --llm-url and --llm-model');
    if (!/^https?:\/\//.test(s.llmUrl)) throw new GeneratorSettingsError(`--llm-url: expected an http:// or https:// URL, got ${s.llmUrl}`);
    const spec = {
      generator: 'openai',
      url: s.llmUrl,
      model: s.llmModel,
      apiKey: env.RG_LLM_API_KEY || undefined,
      concurrency: s.concurrency,
      timeoutMs: (s.llmTimeout ?? 120) * 1000,
    } as const;
    return openAugmenter(spec, options);
  }
  const spec = {
    generator: 'local',
    model: local.model,
    home: local.home,
    threads: local.threads,
    weightFormat: s.weights ?? 'q4',
  } as const;
  return openAugmenter(spec, options);
}
