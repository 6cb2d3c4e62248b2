import type { LoraWeights } from '@rg/lora';
import type { CorpusDocument } from '../datasets/types.js';
import type { AnswerModel, ChatMessage, PassageRetriever, RetrievedHit } from '../model.js';

/**
 * A test double of the language model whose knowledge is explicit: it "knows" the documents whose passages
 * are in the prompt and the documents whose adapters are applied (looked up through `adapterDocs`). A
 * continuation found in a known document gets log-likelihood 0; any other gets -1 per character, so the
 * shortest label wins when nothing is known. Tests use it to check which passages and adapters each method
 * routes to the model, not the model itself.
 */
export class KnowledgeModel implements AnswerModel {
  readonly calls: Array<{ messages: ChatMessage[]; adapterDocs: string[] }> = [];
  constructor(
    private readonly docs: CorpusDocument[],
    readonly adapterDocs: WeakMap<LoraWeights, string[]>,
  ) {}

  private known(messages: ChatMessage[], adapters: LoraWeights | null): string[] {
    const fromAdapters = adapters ? (this.adapterDocs.get(adapters) ?? []) : [];
    this.calls.push({ messages, adapterDocs: fromAdapters });
    const prompt = messages.map((m) => m.content).join('\n');
    return this.docs.filter((d) => fromAdapters.includes(d.id) || prompt.includes(d.text)).map((d) => d.text);
  }

  async continuationLogLikelihoods(
    messages: ChatMessage[],
    continuations: string[],
    options: { adapters: LoraWeights | null },
  ): Promise<number[]> {
    const known = this.known(messages, options.adapters);
    return continuations.map((c) => (known.some((t) => t.includes(c)) ? 0 : -c.length));
  }

  async generate(messages: ChatMessage[], options: { adapters: LoraWeights | null; maxNewTokens: number }): Promise<string> {
    const known = this.known(messages, options.adapters);
    return known.length > 0 ? known.join(' ') : 'I do not know.';
  }
}

/** Ranks documents by how many question words they contain (ties by corpus order). */
export function overlapRetriever(docs: CorpusDocument[]): PassageRetriever {
  const words = (s: string) => new Set(s.toLowerCase().match(/\w+/g) ?? []);
  return {
    async search(query: string, { k }: { k: number }): Promise<RetrievedHit[]> {
      const q = words(query);
      return docs
        .map((d) => ({ id: d.id, score: [...words(d.text)].filter((w) => q.has(w) && w.length > 3).length }))
        .sort((a, b) => b.score - a.score)
        .slice(0, k);
    },
  };
}
