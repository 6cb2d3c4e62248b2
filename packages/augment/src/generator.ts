import type { ChatMessage } from '@rg/engine';
import type { AugmentedRecord } from './record.js';

// One chat message type for the house: the engine's, which its chat template renders.
export type { ChatMessage } from '@rg/engine';

export interface GenerateOptions {
  /** Sampling seed; a retry uses another one to get a different output. */
  seed?: number;
  /** 0 means greedy. */
  temperature?: number;
  maxTokens?: number;
  /** Stop once the output contains one of these (the text is cut before it): ends a one-item answer early. */
  stop?: string[];
  signal?: AbortSignal;
}

/** A chat model behind any backend: messages in, the assistant's text out. */
export interface TextGenerator {
  /** Recorded in every record it helps make, e.g. `openai:gpt-4o-mini`, `local:smollm2-135m-instruct`. */
  readonly id: string;
  generate(messages: ChatMessage[], options?: GenerateOptions): Promise<string>;
  close?(): Promise<void>;
}

/** A failure of the backend itself (bad URL, key refused): every passage would fail the same way, so the run stops. */
export class FatalGeneratorError extends Error {
  override name = 'FatalGeneratorError';
}

export interface Passage {
  id: string;
  text: string;
  title?: string;
}

export interface AugmentOptions {
  /** Base seed for this passage; retries add 1, 2, ... */
  seed?: number;
  signal?: AbortSignal;
}

/**
 * Turns one passage into its augmented record. Model-backed augmentation (`LlmAugmenter` over a TextGenerator) and
 * the model-free `TemplateAugmenter` both implement it, so a run does not care which one it drives.
 */
export interface Augmenter {
  readonly generator: string;
  readonly promptVersion: string;
  augment(passage: Passage, options?: AugmentOptions): Promise<AugmentedRecord>;
  close?(): Promise<void>;
}
