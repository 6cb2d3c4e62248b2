import type { AdapterSet, CausalLM, KvCache } from '../runtime/causal-lm.js';
import {
  argmax,
  type LogitsProcessor,
  logProbability,
  sampleIndex,
  temperatureProcessor,
  topKProcessor,
  topPProcessor,
} from './logits-process.js';
import { seededRandom } from './prng.js';

export interface GenerateOptions {
  maxNewTokens?: number;
  /** 0 or absent: greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Seed of the sampling PRNG (default 0): same seed, same tokens. */
  seed?: number;
  /** Stop after any of these ids (default: the model's EOS ids). The stop token is included. */
  eosTokenIds?: number[];
  /** Stop once the decoded text contains one of these; the text is cut before it. Needs `decode`. */
  stopStrings?: string[];
  /** Detokenizer for stop strings and streamed text. */
  decode?: (ids: number[]) => string;
  adapters?: AdapterSet | null;
  /** Called for each new token, with the text it adds when `decode` is given. */
  onToken?: (token: number, textDelta: string) => void;
}

export interface GenerateResult {
  tokens: number[];
  /** Decoded new text (cut at a stop string), when `decode` is given. */
  text?: string;
  finishReason: 'eos' | 'stop' | 'length';
}

/** The processors implied by sampling options, in transformers' order: temperature, top-k, top-p. */
export function samplingProcessors(options: Pick<GenerateOptions, 'temperature' | 'topK' | 'topP'>): LogitsProcessor[] {
  const out: LogitsProcessor[] = [];
  if (options.temperature) out.push(temperatureProcessor(options.temperature));
  if (options.topK) out.push(topKProcessor(options.topK));
  if (options.topP !== undefined && options.topP < 1) out.push(topPProcessor(options.topP));
  return out;
}

/**
 * One sequence's decoding policy: picks each token from the logits after it, streams it and decides when the sequence
 * ends. `generate` and the `DecodeBatcher` share it, so a request gets the same tokens either way.
 */
export class SequenceDecoder {
  readonly tokens: number[] = [];
  private text = '';
  private finishReason: GenerateResult['finishReason'] | null = null;
  private readonly maxNewTokens: number;
  private readonly eos: Set<number>;
  private readonly greedy: boolean;
  private readonly processors: LogitsProcessor[];
  private readonly random: () => number;
  private readonly stops: string[];

  constructor(
    defaultEosTokenIds: readonly number[],
    private readonly options: GenerateOptions,
  ) {
    this.maxNewTokens = options.maxNewTokens ?? 128;
    this.eos = new Set(options.eosTokenIds ?? defaultEosTokenIds);
    this.greedy = !options.temperature;
    this.processors = this.greedy ? [] : samplingProcessors(options);
    this.random = seededRandom(options.seed ?? 0);
    this.stops = options.stopStrings ?? [];
    if (this.stops.length > 0 && !options.decode) throw new Error('generate: stopStrings need a decode function');
  }

  get done(): boolean {
    return this.finishReason !== null || this.tokens.length >= this.maxNewTokens;
  }

  /** The token to feed next. */
  get lastToken(): number {
    return this.tokens[this.tokens.length - 1];
  }

  /** Pick the next token from `logits` (processed in place). */
  push(logits: Float32Array): void {
    for (const p of this.processors) p(logits);
    const token = this.greedy ? argmax(logits) : sampleIndex(logits, this.random());
    this.tokens.push(token);
    let delta = '';
    if (this.options.decode) {
      const full = this.options.decode(this.tokens);
      delta = full.slice(this.text.length);
      this.text = full;
    }
    const stopAt = this.stops.map((s) => this.text.indexOf(s)).filter((i) => i >= 0);
    if (stopAt.length > 0) {
      this.text = this.text.slice(0, Math.min(...stopAt));
      this.finishReason = 'stop';
      return;
    }
    this.options.onToken?.(token, delta);
    if (this.eos.has(token)) this.finishReason = 'eos';
  }

  result(): GenerateResult {
    return { tokens: this.tokens, ...(this.options.decode ? { text: this.text } : {}), finishReason: this.finishReason ?? 'length' };
  }
}

/** Autoregressive generation: one prefill, then one-token decode steps over the KV cache. */
export async function generate(lm: CausalLM, promptIds: number[], options: GenerateOptions = {}): Promise<GenerateResult> {
  const sequence = new SequenceDecoder(lm.config.eosTokenIds, options);
  let cache: KvCache | null = null;
  let input = promptIds;
  while (!sequence.done) {
    const step = await lm.forward({ ids: input, cache, adapters: options.adapters });
    if (cache) lm.release(cache);
    cache = step.cache;
    sequence.push(step.logits);
    input = [sequence.lastToken];
  }
  if (cache) lm.release(cache);
  return sequence.result();
}

/** Logits for the token after `ids` (`[vocabSize]`). */
export async function nextTokenLogits(lm: CausalLM, ids: number[], adapters?: AdapterSet | null): Promise<Float32Array> {
  const { logits, cache } = await lm.forward({ ids, adapters });
  lm.release(cache);
  return logits;
}

/**
 * Log-likelihood of `continuation` after `prompt`: Σ log p(cᵢ | prompt, c<ᵢ), natural log, with each
 * token's term. One forward over prompt + continuation (minus its last token).
 */
export async function continuationLogLikelihood(
  lm: CausalLM,
  prompt: number[],
  continuation: number[],
  adapters?: AdapterSet | null,
): Promise<{ logLikelihood: number; tokenLogProbs: number[] }> {
  if (prompt.length === 0 || continuation.length === 0)
    throw new Error('continuationLogLikelihood: prompt and continuation must not be empty');
  const ids = [...prompt, ...continuation.slice(0, -1)];
  const { logits, cache } = await lm.forward({ ids, adapters, numLogits: continuation.length });
  lm.release(cache);
  const vocab = lm.config.vocabSize;
  const tokenLogProbs = continuation.map((token, i) => logProbability(logits.subarray(i * vocab, (i + 1) * vocab), token));
  return { logLikelihood: tokenLogProbs.reduce((a, b) => a + b, 0), tokenLogProbs };
}
