import type { ChatMessage } from './generator.js';

/**
 * The project's own prompts. Any change to their wording is a new PROMPT_VERSION: records carry it, so data made
 * with different prompts is never mixed up silently.
 */
export const PROMPT_VERSION = 'rg-augment-v1';

const SYSTEM = 'You turn a passage into study material. Use only what the passage states. Never add facts, opinions or comments.';

function passageBlock(passage: string, title?: string): string {
  return `${title ? `Title: ${title}\n` : ''}Passage:\n"""\n${passage}\n"""`;
}

export function rewriteMessages(passage: string, title?: string): ChatMessage[] {
  return [
    { role: 'system', content: SYSTEM },
    {
      role: 'user',
      content:
        `${passageBlock(passage, title)}\n\n` +
        'Rewrite this passage in different words. Keep every name, number, date, unit and technical term exactly as ' +
        'written; change the sentence structure and the ordinary words. Reply with the rewritten passage only.',
    },
  ];
}

export function qaMessages(passage: string, count: number, title?: string): ChatMessage[] {
  return [
    { role: 'system', content: SYSTEM },
    {
      role: 'user',
      content:
        `${passageBlock(passage, title)}\n\n` +
        `Write ${count} different questions that this passage answers. Each answer must be copied word for word from ` +
        'the passage: a name, number, date or short phrase of at most 10 words.\n' +
        'Format example (for another text): [{"question": "In which year was the bridge opened?", "answer": "1932"}]\n' +
        `Reply with only a JSON array of ${count} objects with the keys "question" and "answer".`,
    },
  ];
}

export function metaMessages(passage: string, title?: string): ChatMessage[] {
  return [
    { role: 'system', content: SYSTEM },
    {
      role: 'user',
      content:
        `${passageBlock(passage, title)}\n\n` +
        'Describe this passage for a search index. Reply with only a JSON object of this form:\n' +
        '{"description": "one sentence saying what the passage is about", "tags": ["topic", "entity", "term"]}\n' +
        'Give 3 to 8 short tags: the topic and the main names, entities and terms.',
    },
  ];
}
