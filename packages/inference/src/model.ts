import type { ChatMessage } from '@rg/engine';
import type { LoraWeights } from '@rg/lora';
import type { CorpusDocument } from './datasets/types.js';

// One chat message type for the house: the engine's, which its chat template renders.
export type { ChatMessage } from '@rg/engine';

/** One generation as an app serves it (streamed, abortable, counted and timed): what `AnswerModel.complete` takes. */
export interface CompletionRequest {
  /** A conversation rendered with the chat template (assistant turn opened), or a raw prompt continued as it is. */
  prompt: { messages: ChatMessage[] } | { raw: string };
  adapters: LoraWeights | null;
  maxNewTokens: number;
  /** 0 or absent: greedy. */
  temperature?: number;
  /** Seed of the sampling (default 0). */
  seed?: number;
  /** The text each new token adds, as it is generated; the deltas concatenate to `Completion.text`. */
  onDelta?: (text: string) => void;
  /** Checked between tokens: once aborted, generation ends with finishReason "abort" and what was generated. */
  signal?: AbortSignal;
}

export interface Completion {
  /** The generated text as decoded (not trimmed). */
  text: string;
  /** stop: an end-of-sequence token or a stop string; length: maxNewTokens reached; abort: the signal fired. */
  finishReason: 'stop' | 'length' | 'abort';
  promptTokens: number;
  completionTokens: number;
  /** Preparing the adapters' inputs for the model (part of composing them for the request). */
  adaptersMs: number;
  /** The prompt's forward pass and the first token. */
  prefillMs: number;
  /** Every later token. */
  decodeMs: number;
}

/**
 * What inference needs from a language model: the engine implements it (chat template, tokenizer, KV cache);
 * `adapters` is the LoRA set applied for this one request (null = the base model).
 */
export interface AnswerModel {
  /** The assistant's reply to `messages`, greedy, at most `maxNewTokens` tokens. */
  generate(messages: ChatMessage[], options: { adapters: LoraWeights | null; maxNewTokens: number }): Promise<string>;
  /**
   * Optional: a generation with streaming, abort, sampling, raw prompts, token counts and timings. The answerer uses
   * it when present (engineAnswerModel has it); a model without it serves only what `generate` can.
   */
  complete?(request: CompletionRequest): Promise<Completion>;
  /**
   * For each continuation, the sum of the log-probabilities of its tokens when it follows `messages` rendered
   * with the chat template and the assistant turn opened.
   */
  continuationLogLikelihoods(
    messages: ChatMessage[],
    continuations: string[],
    options: { adapters: LoraWeights | null },
  ): Promise<number[]>;
}

export interface RetrievedHit {
  id: string;
  score: number;
}

/** Top-k document ids for a question: any `Retriever` of @rg/retriever fits. */
export interface PassageRetriever {
  search(query: string, options: { k: number }): Promise<RetrievedHit[]>;
}

/** Passage text by document id: the `CorpusStore` of @rg/corpus fits. */
export interface DocumentSource {
  get(id: string): CorpusDocument | undefined | Promise<CorpusDocument | undefined>;
}

/**
 * An adapter by document or cluster id, null when none is stored. `E` is whatever the store hands out and its
 * composition takes (with @rg/adapter-store: a CompositionEntry, trained adapter or base_weight + gradient).
 */
export interface AdapterSource<E> {
  load(id: string): Promise<E | null>;
  /**
   * Called once loaded entries have been composed (composition copies what it needs): the source may then reuse
   * their memory. Optional; with @rg/adapter-store this lets cold loads read into recycled buffers.
   */
  release?(entries: E[]): void;
}

/**
 * Concatenate adapters along the rank axis (PEFT's "cat"): @rg/adapter-store's composeCat. `weights` (one per
 * entry; absent = 1 each, the sum of the deltas) scale each adapter's delta.
 */
export type ComposeAdapters<E> = (entries: E[], weights?: readonly number[]) => LoraWeights;

/** The clusters whose adapters answer a question (nearest centroids of the question's embedding). */
export interface ClusterRouter {
  route(question: string, k: number): Promise<string[]>;
}
