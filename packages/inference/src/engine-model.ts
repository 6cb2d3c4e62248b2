import type { LoraWeights } from '@rg/adapter-store';
import { type CausalLM, generate, logProbability } from '@rg/engine';
import type { AnswerModel, ChatMessage } from './model.js';

/** The part of the engine's Tokenizer that answering needs. */
export interface ChatTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
  /** A conversation rendered with the model's chat template, assistant turn opened. */
  encodeChat(messages: ChatMessage[]): number[];
}

/**
 * An AnswerModel on the engine: the prompt is the model's own chat template with the assistant turn opened,
 * the adapters are prepared once per request and released after it (the base model is never changed).
 */
export function engineAnswerModel(lm: CausalLM, tokenizer: ChatTokenizer): AnswerModel {
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
