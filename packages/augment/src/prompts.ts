import type { ChatMessage } from './generator.js';

/**
 * The project's own prompts. Any change to their wording is a new PROMPT_VERSION: records carry it, so data made
 * with different prompts is never mixed up silently.
 *
 * v2: each task shows one worked example as a previous user/assistant turn. Small models (SmolLM2-135M) ignored a
 * format described in words (v1: plain numbered questions, no JSON) but copy the format of an earlier answer.
 * v3: the example description uses the passage's own words (descriptions are now checked against the passage).
 */
export const PROMPT_VERSION = 'rg-augment-v3';

/**
 * Prompts of the sentence pipeline (`LlmAugmenter` with `unit: 'sentence'`), for small models.
 *
 * v4: SmolLM2-135M loses numbers when rewriting a whole abstract and writes long, often invented answers when asked
 * for QA over it (v3: 0 of 15 PubMedQA abstracts valid). One sentence per call is short enough for it to copy every
 * number; for QA it is given the answer (a span picked from the sentence) and only writes the question, which it
 * does well, so every answer is grounded by construction and the checks judge the question. Two or three worked
 * examples as earlier turns, one line out (the caller stops at the newline).
 * v4.1: same prompts; stricter question checks (a year answer needs a when/year question, no number of the answer in
 * the question) and no clause-opening word after a colon as an answer span: v4 accepted such pairs on PubMedQA.
 */
export const SENTENCE_PROMPT_VERSION = 'rg-augment-v4.1-sentence';

const SYSTEM = 'You turn a passage into study material. Use only what the passage states. Never add facts, opinions or comments.';

/** The worked example: invented, short, with a number, a date and names, in no domain of the evaluation data. */
const EXAMPLE_PASSAGE =
  'The Tamar Bridge opened in 1961 between Plymouth and Saltash. It carries about 16 million vehicles a year and was the longest suspension bridge in the United Kingdom when it opened.';
const EXAMPLE_REWRITE =
  'When it opened in 1961, the Tamar Bridge, which links Plymouth and Saltash, was the longest suspension bridge in the United Kingdom. Every year about 16 million vehicles cross it.';
const EXAMPLE_QA = [
  { question: 'When did the Tamar Bridge open?', answer: '1961' },
  { question: 'Which two places does the Tamar Bridge connect?', answer: 'Plymouth and Saltash' },
  { question: 'How many vehicles cross the Tamar Bridge each year?', answer: 'about 16 million' },
];
const EXAMPLE_META = {
  description: 'When the Tamar Bridge opened, the vehicles it carries and its record as a suspension bridge.',
  tags: ['Tamar Bridge', 'suspension bridge', 'Plymouth', 'Saltash', 'United Kingdom'],
};

function passageBlock(passage: string, title?: string): string {
  return `${title ? `Title: ${title}\n` : ''}Passage:\n"""\n${passage}\n"""`;
}

/** System, the example as a finished exchange, then the real request in the same words. */
function withExample(ask: (passage: string) => string, exampleAnswer: string, passage: string, title?: string): ChatMessage[] {
  return [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: ask(passageBlock(EXAMPLE_PASSAGE)) },
    { role: 'assistant', content: exampleAnswer },
    { role: 'user', content: ask(passageBlock(passage, title)) },
  ];
}

export function rewriteMessages(passage: string, title?: string): ChatMessage[] {
  const ask = (block: string) =>
    `${block}\n\nRewrite this passage in different words. Keep every name, number, date, unit and technical term exactly as ` +
    'written; change the sentence structure and the ordinary words. Reply with the rewritten passage only.';
  return withExample(ask, EXAMPLE_REWRITE, passage, title);
}

export function qaMessages(passage: string, count: number, title?: string): ChatMessage[] {
  const ask = (block: string) =>
    `${block}\n\nWrite ${count} different questions that this passage answers. Each answer must be copied word for word ` +
    'from the passage: a name, number, date or short phrase of at most 10 words. ' +
    `Reply with only a JSON array of ${count} objects with the keys "question" and "answer".`;
  return withExample(ask, JSON.stringify(EXAMPLE_QA.slice(0, Math.min(count, EXAMPLE_QA.length))), passage, title);
}

export function metaMessages(passage: string, title?: string): ChatMessage[] {
  const ask = (block: string) =>
    `${block}\n\nDescribe this passage for a search index. Reply with only a JSON object with "description" (one ` +
    'sentence saying what the passage is about) and "tags" (3 to 8 short tags: the topic and the main names, entities and terms).';
  return withExample(ask, JSON.stringify(EXAMPLE_META), passage, title);
}

const SENTENCE_REWRITE_SYSTEM =
  'You rewrite one sentence at a time. Keep every number, name, unit and technical term exactly as written. ' +
  'Change the word order and the ordinary words. Never add or drop a fact.';

/** Invented sentences, outside the domains of the evaluation data; each keeps all its numbers. */
export const SENTENCE_REWRITE_EXAMPLES: ReadonlyArray<{ sentence: string; rewrite: string }> = [
  {
    sentence: 'The Tamar Bridge opened in 1961 between Plymouth and Saltash.',
    rewrite: 'Between Plymouth and Saltash, the Tamar Bridge was opened in 1961.',
  },
  {
    sentence: 'Of the 120 students tested, 45 (37.5%) passed the exam at the first attempt.',
    rewrite: 'At the first attempt, 45 (37.5%) of the 120 tested students passed the exam.',
  },
];

export function sentenceRewriteMessages(sentence: string): ChatMessage[] {
  const messages: ChatMessage[] = [{ role: 'system', content: SENTENCE_REWRITE_SYSTEM }];
  for (const e of SENTENCE_REWRITE_EXAMPLES) {
    messages.push({ role: 'user', content: `Rewrite: ${e.sentence}` }, { role: 'assistant', content: e.rewrite });
  }
  messages.push({ role: 'user', content: `Rewrite: ${sentence}` });
  return messages;
}

const QUESTION_SYSTEM = 'You write one question about a sentence. The given answer must be the answer to your question.';

/** Invented: a date, a count and a name as answers, the three kinds of span the pipeline picks. */
export const QUESTION_EXAMPLES: ReadonlyArray<{ sentence: string; answer: string; question: string }> = [
  {
    sentence: 'The Tamar Bridge opened in 1961 between Plymouth and Saltash.',
    answer: '1961',
    question: 'When did the Tamar Bridge open?',
  },
  {
    sentence: 'Of the 120 students tested, 45 (37.5%) passed the exam at the first attempt.',
    answer: '45',
    question: 'How many of the 120 tested students passed the exam at the first attempt?',
  },
  {
    sentence: 'The survey was run by the Cornwall Transport Office using roadside cameras.',
    answer: 'Cornwall Transport Office',
    question: 'Who ran the survey with roadside cameras?',
  },
];

/** Answer-aware question writing: the sentence and the answer span in, `Question: ...` out. */
export function questionMessages(sentence: string, answer: string): ChatMessage[] {
  const messages: ChatMessage[] = [{ role: 'system', content: QUESTION_SYSTEM }];
  for (const e of QUESTION_EXAMPLES) {
    messages.push(
      { role: 'user', content: `Sentence: ${e.sentence}\nAnswer: ${e.answer}` },
      { role: 'assistant', content: `Question: ${e.question}` },
    );
  }
  messages.push({ role: 'user', content: `Sentence: ${sentence}\nAnswer: ${answer}` });
  return messages;
}
