import type { LoraWeights } from '@rg/lora';
import { describe, expect, it } from 'vitest';
import { createAnswerer } from './answerer.js';
import type { CorpusDocument } from './datasets/types.js';
import type { MethodDeps } from './methods.js';
import { KnowledgeModel, overlapRetriever } from './test-helpers/knowledge-model.js';

const docs: CorpusDocument[] = [
  { id: 'velmora', text: 'Velmora harbour town was founded in 1742 by Oskar Brandt.' },
  { id: 'quorinium', text: 'The element quorinium glows green and was made by Halvard Menst.' },
];

/** Adapters stand for their document: the composition records which documents it holds. */
function deps(): MethodDeps<string> & { model: KnowledgeModel } {
  const adapterDocs = new WeakMap<LoraWeights, string[]>();
  return {
    model: new KnowledgeModel(docs, adapterDocs),
    retriever: overlapRetriever(docs),
    documents: { get: (id) => docs.find((d) => d.id === id) },
    adapters: { load: async (id) => (id === 'velmora' ? id : null) },
    compose: (ids) => {
      const lora: LoraWeights = { rank: 2 * ids.length, targets: ['down_proj'], modules: new Map() };
      adapterDocs.set(lora, ids);
      return lora;
    },
  };
}

describe('createAnswerer', () => {
  it('answers a plain question with the retrieved documents’ adapters and says what it used', async () => {
    const d = deps();
    const rg = createAnswerer(d, { method: 'cat_all_one', topk: 2, maxNewTokens: 16 });
    const a = await rg.answer('When was Velmora harbour town founded?');
    expect(a.retrieved.map((h) => h.id)).toEqual(['velmora', 'quorinium']);
    expect(a.adapters).toEqual(['velmora']);
    expect(a.missingAdapters).toEqual(['quorinium']);
    expect(a.passages).toEqual([]);
    // The knowledge came from the adapter alone: the passage is not in the prompt.
    expect(a.text).toBe(docs[0].text);
    expect(d.model.calls[0].messages[0].content).not.toContain('Oskar Brandt');
  });

  it('picks among choices, and puts the passages in the prompt for icl', async () => {
    const icl = createAnswerer(deps(), { method: 'icl', topk: 1, maxNewTokens: 16 });
    const a = await icl.answer({ question: 'What colour does quorinium glow?', choices: ['red', 'green'] });
    expect(a.passages.map((p) => p.id)).toEqual(['quorinium']);
    expect(a.adapters).toEqual([]);
    expect(a.text).toBe('green');
    expect(a.labelLogLikelihoods).toEqual([-3, 0]);
  });

  it('refuses, when created, a method whose parts are missing; oracle needs the gold documents', async () => {
    const { model } = deps();
    expect(() => createAnswerer({ model }, { method: 'combine', topk: 1, maxNewTokens: 8 })).toThrow(
      'method combine needs retriever, documents, adapters, compose',
    );
    const oracle = createAnswerer(deps(), { method: 'oracle', topk: 1, maxNewTokens: 8 });
    await expect(oracle.answer('Who founded Velmora?')).rejects.toThrow('oracle: question "Who founded Velmora?" names no gold documents');
    expect((await oracle.answer({ question: 'Who founded Velmora?', goldDocIds: ['velmora'] })).adapters).toEqual(['velmora']);
  });
  it('gives each composition back once its answer is done, also when generation fails, and never the DAPT adapter', async () => {
    const d = deps();
    const released: Array<{ lora: LoraWeights; answeredBefore: number }> = [];
    d.releaseComposed = (lora) => released.push({ lora, answeredBefore: d.model.calls.length });
    const rg = createAnswerer(d, { method: 'cat_all_one', topk: 2, maxNewTokens: 16 });
    expect((await rg.answer('When was Velmora harbour town founded?')).text).toBe(docs[0].text);
    // Released after the model read it (a pool rewrites released arrays), exactly once.
    expect(released.map((r) => [r.lora.rank, r.answeredBefore])).toEqual([[2, 1]]);

    d.model.generate = async () => {
      throw new Error('generation failed');
    };
    await expect(rg.answer('When was Velmora harbour town founded?')).rejects.toThrow('generation failed');
    expect(released).toHaveLength(2);

    const dapt: LoraWeights = { rank: 2, targets: ['down_proj'], modules: new Map() };
    const withDapt = deps();
    withDapt.dapt = dapt;
    withDapt.releaseComposed = (lora) => released.push({ lora, answeredBefore: -1 });
    await createAnswerer(withDapt, { method: 'dapt', topk: 1, maxNewTokens: 8 }).answer('Who founded Velmora?');
    expect(released).toHaveLength(2);
  });
});
