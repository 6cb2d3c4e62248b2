import { describe, expect, it } from 'vitest';
import { type ChatEncoder, type ChatMessage, chatExample, recipeExamples } from './recipe.js';

/** A toy chat template (ChatML-like) over a character-level vocabulary, to see exactly what is labelled. */
const encoder: ChatEncoder = {
  encodeChat(messages: ChatMessage[], options = {}) {
    let text = messages.map((m) => `<${m.role}>${m.content}|`).join('');
    if (options.addGenerationPrompt) text += '<assistant>';
    return [...text].map((c) => c.charCodeAt(0));
  },
};
const decode = (ids: number[]) => String.fromCharCode(...ids);

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
    const question = (u: string) => /Question: ([^|]*)\|/.exec(u)?.[1];
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
