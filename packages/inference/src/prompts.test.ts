import { describe, expect, it } from 'vitest';
import { buildMessages } from './prompts.js';

describe('buildMessages', () => {
  it('closed book: the question alone, as in the adapters’ training examples', () => {
    expect(buildMessages('Who founded Velmora?')).toEqual([{ role: 'user', content: 'Question: Who founded Velmora?' }]);
  });

  it('one passage, several passages, and a dataset instruction', () => {
    expect(buildMessages('Q?', { passages: [{ id: 'a', text: 'Alpha.' }] })[0].content).toBe(
      'Read the passage, then answer the question.\n\nPassage: Alpha.\n\nQuestion: Q?',
    );
    const two = buildMessages('Q?', {
      instruction: 'Answer yes, no or maybe.',
      passages: [
        { id: 'a', text: 'Alpha.' },
        { id: 'b', text: 'Beta.' },
      ],
    });
    expect(two[0].content).toBe(
      'Answer yes, no or maybe.\n\nRead the passages, then answer the question.\n\nPassages:\n[1] Alpha.\n[2] Beta.\n\nQuestion: Q?',
    );
  });
});
