import { describe, expect, it } from 'vitest';
import { type ChatEncoder, type ChatMessage, chatExample, recipeExamples, resolveRecipe } from './recipe.js';

/** A toy chat template (ChatML-like) over a character-level vocabulary, to see exactly what is labelled. */
const encoder: ChatEncoder = {
  encodeChat(messages: ChatMessage[], options = {}) {
    let text = messages.map((m) => `<${m.role}>${m.content}|`).join('');
    if (options.addGenerationPrompt) text += '<assistant>';
    return [...text].map((c) => c.charCodeAt(0));
  },
};
const decode = (ids: number[]) => String.fromCharCode(...ids);
// The same vocabulary for plain text, with a BOS (id 1) as a tokenizer adds by default.
const textEncoder: ChatEncoder = { ...encoder, encode: (text) => [1, ...[...text].map((c) => c.charCodeAt(0))] };
const question = (u: string) => /Question: ([^|]*)\|/.exec(u)?.[1];

const record = {
  passageId: 'doc-1',
  passage: 'Edda Quist keeps the Varnholm light.',
  rewrite: 'The Varnholm lighthouse is kept by Edda Quist.',
  qa: [
    { question: 'Who keeps the Varnholm light?', answer: 'Edda Quist' },
    { question: 'What does Edda Quist keep?', answer: 'The Varnholm light' },
    { question: 'Where is the light?', answer: 'Varnholm' },
  ],
};

describe('recipeExamples', () => {
  it('labels only the assistant turn', () => {
    const e = chatExample(encoder, 'Question: q?', 'Yes');
    const labelled = e.inputIds.filter((_, i) => e.labels[i] !== -100);
    expect(decode(labelled)).toBe('Yes|');
    expect(decode(e.inputIds)).toBe('<user>Question: q?|<assistant>Yes|');
  });

  it('asks half the pairs with the passage and with the rewrite, the other half closed-book', () => {
    const { examples, dropped } = recipeExamples(record, encoder, { seed: 1 });
    expect(dropped).toBe(0);
    const users = examples.map((e) => decode(e.inputIds));
    const withPassage = users.filter((u) => u.includes(`Passage: ${record.passage}`));
    const withRewrite = users.filter((u) => u.includes(`Passage: ${record.rewrite}`));
    const closed = users.filter((u) => !u.includes('Passage:'));
    expect(withPassage).toHaveLength(1);
    expect(withRewrite).toHaveLength(1);
    expect(closed).toHaveLength(2);
    // Every QA pair is used, and the with-context pair is the same question in both contexts.
    expect(question(withPassage[0])).toBe(question(withRewrite[0]));
    expect(new Set(users.map(question))).toEqual(new Set(record.qa.map((p) => p.question)));
    for (const e of examples) {
      const answer = decode(e.inputIds.filter((_, i) => e.labels[i] !== -100));
      const q = question(decode(e.inputIds));
      expect(answer).toBe(`${record.qa.find((p) => p.question === q)?.answer}|`);
    }
  });

  it('uses no rewrite when there is none, and drops over-long examples', () => {
    const { examples, dropped } = recipeExamples({ ...record, rewrite: null }, encoder, { maxTokens: 100 });
    expect(examples.length + dropped).toBe(3);
    expect(dropped).toBe(1);
    expect(examples.every((e) => e.inputIds.length <= 100)).toBe(true);
  });
});

describe('recipe options', () => {
  it('prag: the first ceil(N/2) pairs in order with the passage and with the rewrite, the rest closed-book', () => {
    const { examples } = recipeExamples(record, encoder, { recipe: { examples: 'prag' }, seed: 1 });
    // ceil(3/2) = 2 pairs in two contexts, 1 closed-book.
    expect(examples).toHaveLength(5);
    const users = examples.map((e) => decode(e.inputIds));
    const [q0, q1, q2] = record.qa.map((p) => p.question);
    expect(users.map(question)).toEqual([q0, q0, q1, q1, q2]);
    expect(users.map((u) => /Passage: ([^\n]*)/.exec(u)?.[1] ?? null)).toEqual([
      record.passage,
      record.rewrite,
      record.passage,
      record.rewrite,
      null,
    ]);
    // The layout takes no seed: PRAG keeps the augmented order.
    expect(recipeExamples(record, encoder, { recipe: { examples: 'prag' }, seed: 7 }).examples).toEqual(examples);
    // Without a rewrite one example per with-context pair; with 4 pairs, 2 + 2.
    expect(recipeExamples({ ...record, rewrite: null }, encoder, { recipe: { examples: 'prag' } }).examples).toHaveLength(3);
    const four = { ...record, qa: [...record.qa, { question: 'Is it lit?', answer: 'Yes' }] };
    expect(recipeExamples(four, encoder, { recipe: { examples: 'prag' } }).examples).toHaveLength(6);
  });

  it('loss all labels every token of the same sequences; answer only the assistant turn', () => {
    for (const layout of ['qa', 'prag'] as const) {
      const answer = recipeExamples(record, encoder, { recipe: { examples: layout, loss: 'answer' }, seed: 2 }).examples;
      const all = recipeExamples(record, encoder, { recipe: { examples: layout, loss: 'all' }, seed: 2 }).examples;
      expect(all.map((e) => e.inputIds)).toEqual(answer.map((e) => e.inputIds));
      for (const e of all) expect(e.labels).toEqual(e.inputIds);
      for (const e of answer) expect(e.labels.filter((l) => l !== -100).length).toBeLessThan(e.inputIds.length / 2);
    }
    // The default is today's layout and loss, bit for bit.
    expect(recipeExamples(record, encoder, { seed: 2 })).toEqual(
      recipeExamples(record, encoder, { seed: 2, recipe: { examples: 'qa', loss: 'answer' } }),
    );
  });

  it('passage: the passage and the rewrite as plain sequences, every token labelled, long ones cut into windows', () => {
    const { examples, dropped } = recipeExamples(record, textEncoder, { recipe: { examples: 'passage' } });
    expect(dropped).toBe(0);
    expect(examples.map((e) => decode(e.inputIds.slice(1)))).toEqual([record.passage, record.rewrite]);
    for (const e of examples) {
      expect(e.inputIds[0]).toBe(1);
      expect(e.labels).toEqual(e.inputIds);
    }
    expect(recipeExamples({ ...record, rewrite: null, qa: [] }, textEncoder, { recipe: { examples: 'passage' } }).examples).toHaveLength(1);
    // The passage has 37 tokens with its BOS, the rewrite 47: the rewrite becomes windows of 40 and 7 tokens, and
    // every token of both is still trained on, in order.
    const short = recipeExamples(record, textEncoder, { recipe: { examples: 'passage' }, maxTokens: 40 });
    expect(short.examples.map((e) => e.inputIds.length)).toEqual([37, 40, 7]);
    expect(short.dropped).toBe(0);
    expect(
      decode(
        short.examples
          .slice(1)
          .flatMap((e) => e.inputIds)
          .slice(1),
      ),
    ).toBe(record.rewrite);
    for (const e of short.examples) expect(e.labels).toEqual(e.inputIds);
    expect(() => recipeExamples(record, encoder, { recipe: { examples: 'passage' } })).toThrow(/doc-1: the passage layout needs/);
  });

  it('passage: further rewrites (several phrasings) are trained on too, after the passage and the rewrite', () => {
    const more = ['The Varnholm light is kept by Edda Quist.', 'Edda Quist is the keeper of the light at Varnholm.'];
    const { examples } = recipeExamples({ ...record, rewrites: more }, textEncoder, { recipe: { examples: 'passage' } });
    expect(examples.map((e) => decode(e.inputIds.slice(1)))).toEqual([record.passage, record.rewrite, ...more]);
    // The QA layouts read only the pairs, the passage and the one rewrite: their sequences do not change.
    const qa = recipeExamples(record, encoder, { recipe: { examples: 'prag' } }).examples;
    expect(recipeExamples({ ...record, rewrites: more }, encoder, { recipe: { examples: 'prag' } }).examples).toEqual(qa);
  });

  it('passage always trains on every token; defaults are qa and answer', () => {
    expect(resolveRecipe({ examples: 'passage', loss: 'answer' })).toEqual({ examples: 'passage', loss: 'all' });
    expect(resolveRecipe()).toEqual({ examples: 'qa', loss: 'answer' });
    expect(resolveRecipe({ loss: 'all' })).toEqual({ examples: 'qa', loss: 'all' });
  });
});
