import { type CausalLM, generate, type KvCache, logProbability } from '@rg/engine';
import type { LoraWeights } from '@rg/lora';
import type { AnswerModel, ChatMessage, Completion, CompletionRequest } from './model.js';

/** The part of the engine's Tokenizer that answering needs. */
export interface ChatTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
  /** A conversation rendered with the model's chat template, assistant turn opened. */
  encodeChat(messages: ChatMessage[]): number[];
}

/**
 * How tokens are generated: the engine's `generate` by default. An app may put another function of the same shape in
 * its place (e.g. a batcher that runs many requests' decode steps together); it must call `onToken` once per new
 * token, and let an exception thrown by `onToken` end that one request (that is how an abort stops it).
 */
export type GenerateFn = typeof generate;

export interface EngineAnswerModelOptions {
  generate?: GenerateFn;
}

/** Thrown from onToken to stop a generation whose signal fired; never escapes `complete`. */
class Aborted extends Error {}

/**
 * An AnswerModel on the engine: the prompt is the model's own chat template with the assistant turn opened,
 * the adapters are prepared once per request and released after it (the base model is never changed).
 */
export function engineAnswerModel(lm: CausalLM, tokenizer: ChatTokenizer, options: EngineAnswerModelOptions = {}): AnswerModel {
  const generateTokens = options.generate ?? generate;
  async function withAdapters<T>(
    lora: LoraWeights | null,
    run: (set: Awaited<ReturnType<CausalLM['prepareAdapters']>>) => Promise<T>,
  ): Promise<T> {
    const set = await lm.prepareAdapters(lora);
    try {
      return await run(set);
    } finally {
      lm.release(set);
    }
  }
  return {
    generate(messages, { adapters, maxNewTokens }) {
      const promptIds = tokenizer.encodeChat(messages);
      return withAdapters(adapters, async (set) => {
        const out = await generate(lm, promptIds, {
          maxNewTokens,
          adapters: set,
          decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }),
        });
        return out.text ?? '';
      });
    },
    async complete(request: CompletionRequest): Promise<Completion> {
      const promptIds = 'raw' in request.prompt ? tokenizer.encode(request.prompt.raw) : tokenizer.encodeChat(request.prompt.messages);
      const t0 = performance.now();
      const set = await lm.prepareAdapters(request.adapters);
      const adaptersMs = performance.now() - t0;
      const tracked = trackCaches(lm);
      const start = performance.now();
      let firstTokenAt: number | undefined;
      let tokens = 0;
      let text = '';
      let finishReason: Completion['finishReason'];
      try {
        if (request.signal?.aborted) throw new Aborted();
        const out = await generateTokens(tracked.lm, promptIds, {
          maxNewTokens: request.maxNewTokens,
          temperature: request.temperature,
          seed: request.seed,
          adapters: set,
          decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }),
          onToken: (_token, delta) => {
            firstTokenAt ??= performance.now();
            tokens++;
            text += delta;
            if (delta) request.onDelta?.(delta);
            if (request.signal?.aborted) throw new Aborted();
          },
        });
        tokens = out.tokens.length;
        text = out.text ?? text;
        finishReason = out.finishReason === 'length' ? 'length' : 'stop';
      } catch (e) {
        if (!(e instanceof Aborted)) throw e;
        finishReason = 'abort';
      } finally {
        // A generation stopped by an exception leaves its last KV cache with the host: give it back here.
        tracked.releaseAll();
        lm.release(set);
      }
      const end = performance.now();
      return {
        text,
        finishReason,
        promptTokens: promptIds.length,
        completionTokens: tokens,
        adaptersMs,
        prefillMs: (firstTokenAt ?? end) - start,
        decodeMs: firstTokenAt === undefined ? 0 : end - firstTokenAt,
      };
    },
    // The prompt is run once and its KV cache shared by every continuation: with passages in the prompt, that
    // is most of the work of scoring k labels.
    continuationLogLikelihoods(messages, continuations, { adapters }) {
      const promptIds = tokenizer.encodeChat(messages);
      const vocab = lm.config.vocabSize;
      return withAdapters(adapters, async (set) => {
        const prompt = await lm.forward({ ids: promptIds, adapters: set });
        try {
          const out: number[] = [];
          for (const c of continuations) {
            const ids = tokenizer.encode(c, { addSpecialTokens: false });
            if (ids.length === 0) throw new Error(`continuation "${c}" encodes to no tokens`);
            let sum = logProbability(prompt.logits, ids[0]);
            if (ids.length > 1) {
              const rest = await lm.forward({ ids: ids.slice(0, -1), cache: prompt.cache, adapters: set, numLogits: ids.length - 1 });
              for (let i = 1; i < ids.length; i++) sum += logProbability(rest.logits.subarray((i - 1) * vocab, i * vocab), ids[i]);
              lm.release(rest.cache);
            }
            out.push(sum);
          }
          return out;
        } finally {
          lm.release(prompt.cache);
        }
      });
    },
  };
}

/** The model as seen by one generation, keeping the KV caches it holds so that they can be released if it is cut short. */
function trackCaches(lm: CausalLM): { lm: CausalLM; releaseAll: () => void } {
  const held = new Set<KvCache>();
  const view: CausalLM = {
    config: lm.config,
    prepareAdapters: (lora) => lm.prepareAdapters(lora),
    async forward(request) {
      const result = await lm.forward(request);
      held.add(result.cache);
      return result;
    },
    release(handle) {
      held.delete(handle as KvCache);
      lm.release(handle);
    },
    dispose: () => lm.dispose(),
  };
  return {
    lm: view,
    releaseAll() {
      for (const cache of held) lm.release(cache);
      held.clear();
    },
  };
}
