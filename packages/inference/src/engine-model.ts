import type { LoraWeights } from '@rg/adapter-store';
import { type CausalLM, continuationLogLikelihood, generate } from '@rg/engine';
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
    continuationLogLikelihoods(messages, continuations, { adapters }) {
      const promptIds = tokenizer.encodeChat(messages);
      return withAdapters(adapters, async (set) => {
        const out: number[] = [];
        for (const c of continuations) {
          const ids = tokenizer.encode(c, { addSpecialTokens: false });
          out.push((await continuationLogLikelihood(lm, promptIds, ids, set)).logLikelihood);
        }
        return out;
      });
    },
  };
}
