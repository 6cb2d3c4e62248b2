import { randomUUID } from 'node:crypto';
import type { AnswerResult } from '@rg/pipeline';

/** Which endpoint's shapes a response takes. */
export type Endpoint = 'chat' | 'completion';

export type FinishReason = 'stop' | 'length';

/** The rg extension of a response: what was retrieved and applied, and where the time went. */
export interface RgResponse {
  method: string;
  documents: Array<{ id: string; score: number }>;
  adapters: Array<{ id: string; weight: number }>;
  missing_adapters: string[];
  timings: AnswerResult['timings'];
  /** True when the request timeout cut the answer (then finish_reason is "length"). */
  timed_out: boolean;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function rgResponse(result: AnswerResult, timedOut: boolean): RgResponse {
  return {
    method: result.method,
    documents: result.documents,
    adapters: result.adapters,
    missing_adapters: result.missingAdapters,
    timings: result.timings,
    timed_out: timedOut,
  };
}

export function usage(result: AnswerResult): Usage {
  return {
    prompt_tokens: result.promptTokens,
    completion_tokens: result.completionTokens,
    total_tokens: result.promptTokens + result.completionTokens,
  };
}

/** The id, object type, creation time and model every chunk of one response repeats. */
export class ResponseHeader {
  readonly id: string;
  readonly created = Math.floor(Date.now() / 1000);

  constructor(
    readonly endpoint: Endpoint,
    readonly model: string,
  ) {
    this.id = `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replaceAll('-', '')}`;
  }

  private base(streaming: boolean) {
    const object = this.endpoint === 'chat' ? (streaming ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion';
    return { id: this.id, object, created: this.created, model: this.model };
  }

  /** The whole (non-streaming) response. */
  complete(text: string, finish: FinishReason, result: AnswerResult, timedOut: boolean) {
    const choice =
      this.endpoint === 'chat'
        ? { index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: finish }
        : { index: 0, text, logprobs: null, finish_reason: finish };
    return { ...this.base(false), choices: [choice], usage: usage(result), rg: rgResponse(result, timedOut) };
  }

  /** A streamed piece of text; the first chat chunk also carries the assistant role, as OpenAI's does. */
  delta(text: string, first = false) {
    const choice =
      this.endpoint === 'chat'
        ? { index: 0, delta: first ? { role: 'assistant', content: text } : { content: text }, logprobs: null, finish_reason: null }
        : { index: 0, text, logprobs: null, finish_reason: null };
    return { ...this.base(true), choices: [choice] };
  }

  /** The chunk that ends the choice; it carries the rg extension (and usage when the client asked for it separately). */
  finish(finish: FinishReason, result: AnswerResult, timedOut: boolean) {
    const choice =
      this.endpoint === 'chat'
        ? { index: 0, delta: {}, logprobs: null, finish_reason: finish }
        : { index: 0, text: '', logprobs: null, finish_reason: finish };
    return { ...this.base(true), choices: [choice], rg: rgResponse(result, timedOut) };
  }

  /** stream_options.include_usage: a last chunk with no choices and the usage. */
  usageChunk(result: AnswerResult) {
    return { ...this.base(true), choices: [], usage: usage(result) };
  }
}
