import { describe, expect, it } from 'vitest';
import { checkMetaOutput, checkQaOutput, checkQuestion, checkRewrite } from './checks.js';
import {
  metaMessages,
  QUESTION_EXAMPLES,
  qaMessages,
  questionMessages,
  rewriteMessages,
  SENTENCE_REWRITE_EXAMPLES,
  sentenceRewriteMessages,
} from './prompts.js';

/** The example passage as the prompt shows it (between the triple quotes of the first user turn). */
function examplePassage(content: string): string {
  return /"""\n([\s\S]*?)\n"""/.exec(content)?.[1] ?? '';
}

describe('prompts', () => {
  it('end with the real passage after one worked example, in the same words', () => {
    for (const messages of [rewriteMessages('P1 text.'), qaMessages('P1 text.', 3), metaMessages('P1 text.')]) {
      expect(messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
      expect(messages[3].content).toContain('"""\nP1 text.\n"""');
      const instructions = (m: { content: string }) => m.content.slice(m.content.lastIndexOf('"""'));
      expect(instructions(messages[3])).toBe(instructions(messages[1]));
    }
    expect(qaMessages('x', 2, 'A title')[3].content).toMatch(/^Title: A title\n/);
  });

  it('show examples that pass our own checks (a model copying them learns the rules)', () => {
    const rw = rewriteMessages('x');
    expect(checkRewrite(rw[2].content, examplePassage(rw[1].content))).toEqual({ rewrite: rw[2].content });
    for (const n of [1, 3]) {
      const qa = qaMessages('x', n);
      const checked = checkQaOutput(qa[2].content, examplePassage(qa[1].content));
      expect(checked.valid).toHaveLength(n);
      expect(checked.reasons).toEqual([]);
    }
    const meta = metaMessages('x');
    expect(checkMetaOutput(meta[2].content, examplePassage(meta[1].content)).reason).toBeUndefined();
  });

  it('sentence prompts: worked examples as earlier turns, then the real request in the same form', () => {
    const rw = sentenceRewriteMessages('S1 text.');
    expect(rw.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant', 'user']);
    expect(rw[5].content).toBe('Rewrite: S1 text.');
    const q = questionMessages('S1 text.', 'S1');
    expect(q.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant', 'user', 'assistant', 'user']);
    expect(q[7].content).toBe('Sentence: S1 text.\nAnswer: S1');
    expect(q[2].content).toMatch(/^Question: /);
  });

  it('sentence examples pass the strict checks (every number and term kept; questions for their answer)', () => {
    for (const e of SENTENCE_REWRITE_EXAMPLES)
      expect(checkRewrite(e.rewrite, e.sentence, { strict: true })).toEqual({ rewrite: e.rewrite });
    for (const e of QUESTION_EXAMPLES) {
      expect(e.sentence).toContain(e.answer);
      expect(checkQuestion(`Question: ${e.question}`, e.answer, e.sentence, e.sentence)).toEqual({ question: e.question });
    }
  });
});
