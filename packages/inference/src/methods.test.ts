import type { LoraWeights } from '@rg/lora';
import { describe, expect, it } from 'vitest';
import type { CorpusDocument, Dataset } from './datasets/types.js';
import { checkDeps, compositionWeights, type MethodDeps, scaledWeights } from './methods.js';
import { answerQuestion } from './predict.js';
import { KnowledgeModel, overlapRetriever } from './test-helpers/knowledge-model.js';

const docs: CorpusDocument[] = [
  { id: 'velmora', text: 'Velmora harbour town was founded in 1742 by Oskar Brandt.' },
  { id: 'quorinium', text: 'The element quorinium glows green and was made by Halvard Menst.' },
  { id: 'skarball', text: 'Skarball teams have seven players and the sport started in Dunmere.' },
];
const dataset: Dataset = {
  name: 'toy',
  documents: docs,
  primaryMetric: 'accuracy',
  examples: [
    {
      id: 'q1',
      question: 'Which year was Velmora harbour town founded?',
      answers: ['1742'],
      choices: ['1815', '1742'],
      goldDocIds: ['velmora'],
    },
    { id: 'q2', question: 'What colour does quorinium glow?', answers: ['green'], choices: ['red', 'green'], goldDocIds: ['quorinium'] },
  ],
};

/** Adapters stand for their document: the composition records which documents it holds. */
function deps(opts: { storedAdapters?: string[] } = {}): MethodDeps<string> & { model: KnowledgeModel } {
  const adapterDocs = new WeakMap<LoraWeights, string[]>();
  const stored = new Set(opts.storedAdapters ?? docs.map((d) => d.id));
  return {
    model: new KnowledgeModel(docs, adapterDocs),
    retriever: overlapRetriever(docs),
    documents: { get: (id) => docs.find((d) => d.id === id) },
    adapters: { load: async (id) => (stored.has(id) ? id : null) },
    compose: (ids) => {
      const lora: LoraWeights = { rank: 2 * ids.length, targets: ['down_proj'], modules: new Map() };
      adapterDocs.set(lora, ids);
      return lora;
    },
    clusters: { router: { route: async () => ['c-all'] }, adapters: { load: async (id) => (id === 'c-all' ? 'skarball' : null) } },
  };
}

const opts = { topk: 1, maxNewTokens: 16 };

describe('methods', () => {
  it('wo_param: no retrieval, no adapters; the model falls back to the shortest label', async () => {
    const d = deps();
    const p = await answerQuestion(dataset.examples[0], dataset, d, { ...opts, method: 'wo_param' });
    expect(p.retrievedIds).toEqual([]);
    expect(p.adapters).toEqual([]);
    expect(d.model.calls[0].adapterDocs).toEqual([]);
    expect(p.prediction).toBe('1815');
    expect(p.score).toBe(0);
    expect(p.labelLogLikelihoods).toEqual([-4, -4]);
  });

  it('cat_all_one: applies the retrieved documents’ adapters and leaves the passages out of the prompt', async () => {
    const d = deps();
    const p = await answerQuestion(dataset.examples[0], dataset, d, { ...opts, method: 'cat_all_one', topk: 2 });
    expect(p.retrievedIds[0]).toBe('velmora');
    expect(p.adapters).toEqual(p.retrievedIds);
    expect(d.model.calls[0].adapterDocs).toEqual(p.retrievedIds);
    expect(d.model.calls[0].messages.map((m) => m.content).join()).not.toContain('Oskar Brandt');
    expect(p.prediction).toBe('1742');
    expect(p.score).toBe(1);
  });

  it('gives the loaded adapters back to their source once they are composed, and only then', async () => {
    const d = deps();
    const events: string[] = [];
    const compose = d.compose!;
    d.compose = (ids) => {
      events.push(`compose ${ids}`);
      return compose(ids);
    };
    d.adapters = { load: d.adapters!.load, release: (ids) => events.push(`release ${ids}`) };
    const p = await answerQuestion(dataset.examples[0], dataset, d, { ...opts, method: 'cat_all_one', topk: 2 });
    expect(events).toEqual([`compose ${p.adapters}`, `release ${p.adapters}`]);
  });

  it('icl: passages in the prompt, no adapters; combine: both', async () => {
    const d = deps();
    const icl = await answerQuestion(dataset.examples[1], dataset, d, { ...opts, method: 'icl' });
    expect(icl.adapters).toEqual([]);
    expect(d.model.calls[0].messages[0].content).toContain('Passage: The element quorinium glows green');
    expect(icl.prediction).toBe('green');
    const combine = await answerQuestion(dataset.examples[1], dataset, d, { ...opts, method: 'combine' });
    expect(combine.adapters).toEqual(['quorinium']);
    expect(d.model.calls[1].messages[0].content).toContain('quorinium glows green');
  });

  it('records retrieved documents that have no stored adapter and answers with the rest', async () => {
    const d = deps({ storedAdapters: ['quorinium'] });
    const p = await answerQuestion(dataset.examples[0], dataset, d, { ...opts, method: 'cat_all_one', topk: 2 });
    expect(p.missingAdapters).toContain('velmora');
    expect(p.adapters).toEqual(p.retrievedIds.filter((id) => id !== 'velmora'));
    expect(p.prediction).toBe('1815');
  });

  it('oracle uses the gold documents; cluster the routed clusters; dapt its one adapter', async () => {
    const d = deps();
    const oracle = await answerQuestion(dataset.examples[1], dataset, d, { ...opts, method: 'oracle' });
    expect(oracle.adapters).toEqual(['quorinium']);
    expect(oracle.retrievedIds).toEqual([]);
    await expect(
      answerQuestion({ ...dataset.examples[1], goldDocIds: undefined }, dataset, d, { ...opts, method: 'oracle' }),
    ).rejects.toThrow(/oracle: question q2 names no gold documents/);
    const cluster = await answerQuestion(dataset.examples[1], dataset, d, { ...opts, method: 'cluster' });
    expect(cluster.adapters).toEqual(['c-all']);
    expect(d.model.calls.at(-1)!.adapterDocs).toEqual(['skarball']);
    const dapt: LoraWeights = { rank: 2, targets: [], modules: new Map() };
    d.model.adapterDocs.set(dapt, ['velmora', 'quorinium', 'skarball']);
    const p = await answerQuestion(dataset.examples[1], dataset, { ...d, dapt }, { ...opts, method: 'dapt' });
    expect(p.adapters).toEqual(['dapt']);
    expect(p.prediction).toBe('green');
  });

  it('generates and scores free answers when a question has no choices', async () => {
    const d = deps();
    const ex = { id: 'g', question: 'How many players in a Skarball team?', answers: ['seven'] };
    const p = await answerQuestion(ex, { primaryMetric: 'contains' }, d, { ...opts, method: 'icl' });
    expect(p.prediction).toBe(docs[2].text);
    expect(p.contains).toBe(1);
    expect(p.em).toBe(0);
    expect(p.score).toBe(1);
    const w = await answerQuestion(ex, { primaryMetric: 'contains' }, d, { ...opts, method: 'wo_param' });
    expect([w.prediction, w.score]).toEqual(['I do not know.', 0]);
  });

  it('names the parts a method lacks', () => {
    const { model } = deps();
    expect(() => checkDeps('combine', { model })).toThrow('method combine needs retriever, documents, adapters, compose');
    expect(() => checkDeps('wo_param', { model })).not.toThrow();
  });
});

describe('compose modes', () => {
  it('weights: cat none (the sum), mean 1/k, score the scores normalised to sum 1', () => {
    expect(compositionWeights('cat', 3, [3, 2, 1])).toBeUndefined();
    const mean = compositionWeights('mean', 3, [3, 2, 1])!;
    expect(mean).toEqual([1 / 3, 1 / 3, 1 / 3]);
    const score = compositionWeights('score', 3, [6, 3, 1])!;
    expect(score).toEqual([0.6, 0.3, 0.1]);
    for (const w of [mean, score]) expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // Without retrieval scores (oracle, cluster) score falls back to mean.
    expect(compositionWeights('score', 2)).toEqual([0.5, 0.5]);
    expect(compositionWeights('mean', 0)).toBeUndefined();
    expect(() => compositionWeights('score', 2, [0.4, -0.1])).toThrow(/needs positive retrieval scores, got -0.1/);
  });

  /** deps whose retriever returns fixed scores and whose composition records the weights it was given. */
  function weighed(storedAdapters?: string[]) {
    const d = deps({ storedAdapters });
    const calls: Array<{ ids: string[]; weights?: readonly number[] }> = [];
    const compose = d.compose!;
    d.compose = (ids, weights) => {
      calls.push({ ids, weights });
      return compose(ids);
    };
    const scores: Record<string, number> = { velmora: 6, quorinium: 3, skarball: 1 };
    d.retriever = { search: async (_q, { k }) => docs.slice(0, k).map((doc) => ({ id: doc.id, score: scores[doc.id] })) };
    return { d, calls };
  }

  it('cat composes as it always did: no weights given, none recorded', async () => {
    const { d, calls } = weighed();
    const p = await answerQuestion(dataset.examples[0], dataset, d, { ...opts, method: 'cat_all_one', topk: 3, compose: 'cat' });
    expect(calls).toEqual([{ ids: ['velmora', 'quorinium', 'skarball'], weights: undefined }]);
    expect(p).not.toHaveProperty('adapterWeights');
  });

  it('mean and score weight the applied adapters (a missing one takes no share) and record the weights', async () => {
    const { d, calls } = weighed(['velmora', 'skarball']);
    const mean = await answerQuestion(dataset.examples[0], dataset, d, { ...opts, method: 'cat_all_one', topk: 3, compose: 'mean' });
    expect(calls[0]).toEqual({ ids: ['velmora', 'skarball'], weights: [0.5, 0.5] });
    expect(mean.adapterWeights).toEqual([0.5, 0.5]);
    const score = await answerQuestion(dataset.examples[0], dataset, d, { ...opts, method: 'combine', topk: 3, compose: 'score' });
    // 6 and 1 of the two applied adapters.
    expect(calls[1].weights).toEqual([6 / 7, 1 / 7]);
    expect(score.adapterWeights).toEqual([6 / 7, 1 / 7]);
    const oracle = await answerQuestion(dataset.examples[0], dataset, d, { ...opts, method: 'oracle', compose: 'score' });
    expect(oracle.adapterWeights).toEqual([1]);
  });

  it('--adapter-scale multiplies the weights of any mode (cat: 1 each) and records them; scale 1 changes nothing', async () => {
    const { d, calls } = weighed();
    const cat = await answerQuestion(dataset.examples[0], dataset, d, {
      ...opts,
      method: 'cat_all_one',
      topk: 2,
      compose: 'cat',
      adapterScale: 0.5,
    });
    expect(calls[0]).toEqual({ ids: ['velmora', 'quorinium'], weights: [0.5, 0.5] });
    expect(cat.adapterWeights).toEqual([0.5, 0.5]);
    await answerQuestion(dataset.examples[0], dataset, d, { ...opts, method: 'combine', topk: 2, compose: 'mean', adapterScale: 0.25 });
    expect(calls[1].weights).toEqual([0.125, 0.125]);
    await answerQuestion(dataset.examples[0], dataset, d, { ...opts, method: 'cat_all_one', topk: 2, compose: 'cat', adapterScale: 1 });
    expect(calls[2].weights).toBeUndefined();
    expect(scaledWeights([0.6, 0.4], 2, 2)).toEqual([1.2, 0.8]);
    expect(() => scaledWeights(undefined, 2, 0)).toThrow('adapter scale 0: expected a positive number');
  });
});
