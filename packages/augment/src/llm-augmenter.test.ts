import { describe, expect, it } from 'vitest';
import { type ChatMessage, FatalGeneratorError, type GenerateOptions, type TextGenerator } from './generator.js';
import { LlmAugmenter } from './llm-augmenter.js';
import { PROMPT_VERSION, SENTENCE_PROMPT_VERSION } from './prompts.js';
import { validateAugmentedRecord } from './record.js';

const PASSAGE = 'The Analytical Engine was designed by Charles Babbage in 1837. Ada Lovelace wrote the first program for it in 1843.';
const REWRITE = 'In 1837 Charles Babbage designed the Analytical Engine, and in 1843 Ada Lovelace wrote its first program.';
const QA_GOOD =
  '[{"question": "Who designed the Analytical Engine?", "answer": "Charles Babbage"}, {"question": "When did Ada Lovelace write the first program?", "answer": "1843"}]';
const META = '{"description": "Who designed the Analytical Engine and who programmed it.", "tags": ["Analytical Engine", "Ada Lovelace"]}';

type Task = 'rewrite' | 'qa' | 'meta';

/** A model double that answers each task from a script, one output per call, and records the options it got. */
class ScriptedModel implements TextGenerator {
  readonly id = 'scripted:test';
  readonly calls: Array<{ task: Task; options: GenerateOptions }> = [];
  constructor(private readonly script: Record<Task, Array<string | Error>>) {}

  async generate(messages: ChatMessage[], options: GenerateOptions = {}): Promise<string> {
    const prompt = messages[messages.length - 1].content;
    const task: Task = prompt.includes('Rewrite this passage') ? 'rewrite' : prompt.includes('questions') ? 'qa' : 'meta';
    this.calls.push({ task, options });
    const next = this.script[task].shift();
    if (next === undefined) throw new Error(`script for ${task} ran out`);
    if (next instanceof Error) throw next;
    return next;
  }
}

describe('LlmAugmenter', () => {
  it('builds a valid record from good outputs in one call per task', async () => {
    const model = new ScriptedModel({ rewrite: [REWRITE], qa: [QA_GOOD], meta: [META] });
    const r = await new LlmAugmenter(model, { qaCount: 2 }).augment({ id: 'p', text: PASSAGE }, { seed: 10 });
    expect(validateAugmentedRecord(r)).toEqual(r);
    expect(r).toMatchObject({
      passageId: 'p',
      rewrite: REWRITE,
      qa: [
        { question: 'Who designed the Analytical Engine?', answer: 'Charles Babbage' },
        { question: 'When did Ada Lovelace write the first program?', answer: '1843' },
      ],
      tags: ['Analytical Engine', 'Ada Lovelace'],
      description: 'Who designed the Analytical Engine and who programmed it.',
      generator: 'scripted:test',
      promptVersion: PROMPT_VERSION,
      status: 'ok',
      diagnostics: { calls: 3, qaProposed: 2, qaGrounded: 2 },
    });
    expect(model.calls.map((c) => c.options.seed)).toEqual([10, 10, 10]);
  });

  it('retries bad outputs with the next seed and collects QA pairs across attempts', async () => {
    const model = new ScriptedModel({
      rewrite: ['Sorry, I cannot.', PASSAGE, REWRITE],
      qa: [
        'not json at all',
        '[{"question": "Who designed the Analytical Engine?", "answer": "Charles Babbage",}]',
        "[{'question': 'Who designed the Analytical Engine?', 'answer': 'Charles Babbage'}, {'question': 'What did Ada Lovelace write?', 'answer': 'the first program'}]",
      ],
      meta: [META],
    });
    const r = await new LlmAugmenter(model, { qaCount: 2, maxAttempts: 3 }).augment({ id: 'p', text: PASSAGE }, { seed: 5 });
    expect(r.status).toBe('ok');
    expect(r.rewrite).toBe(REWRITE);
    expect(r.qa.map((p) => p.answer)).toEqual(['Charles Babbage', 'the first program']);
    expect(model.calls.filter((c) => c.task === 'qa').map((c) => c.options.seed)).toEqual([5, 6, 7]);
    expect(r.diagnostics).toEqual({ calls: 7, qaProposed: 3, qaGrounded: 3 });
  });

  it('raises the temperature on retries when the first try is greedy', async () => {
    const model = new ScriptedModel({ rewrite: ['', REWRITE], qa: [QA_GOOD], meta: [META] });
    await new LlmAugmenter(model, { temperature: 0 }).augment({ id: 'p', text: PASSAGE });
    expect(model.calls.filter((c) => c.task === 'rewrite').map((c) => c.options.temperature)).toEqual([0, 0.7]);
  });

  it('records a failed passage with the reasons instead of throwing', async () => {
    const model = new ScriptedModel({
      rewrite: [new Error('HTTP 500'), 'Short.', 'Short.'],
      qa: ['[{"question": "What is the capital of France?", "answer": "Paris"}]', 'nope', new Error('HTTP 503')],
      meta: ['x', 'y', 'z'],
    });
    const r = await new LlmAugmenter(model, { maxAttempts: 3 }).augment({ id: 'p', text: PASSAGE });
    expect(validateAugmentedRecord(r)).toEqual(r);
    expect(r.status).toBe('failed');
    expect(r.rewrite).toBeNull();
    expect(r.qa).toEqual([]);
    expect(r.failureReason).toBe(
      'rewrite: rewrite too short (5% of the passage) (after 3 attempts); qa: no valid pair after 3 attempts (last: generator error: HTTP 503)',
    );
    expect(r.diagnostics).toEqual({ calls: 9, qaProposed: 1, qaGrounded: 0 });
  });

  it('lets a fatal generator error through (the run must stop)', async () => {
    const model = new ScriptedModel({ rewrite: [new FatalGeneratorError('HTTP 401')], qa: [], meta: [] });
    await expect(new LlmAugmenter(model).augment({ id: 'p', text: PASSAGE })).rejects.toBeInstanceOf(FatalGeneratorError);
  });
});

const RIVER =
  'The Rhine flows for 1,230 kilometres from the Alps to the North Sea. Rotterdam lies near its mouth.\n' +
  'A short note. About 8 million people live along the Dutch part of the river.';

/**
 * A model double for the sentence pipeline: answers each prompt kind with a function of what the prompt asks about
 * (the sentence to reword, the sentence and answer to ask about), and records every call.
 */
class SentenceModel implements TextGenerator {
  readonly id = 'scripted:sentences';
  readonly calls: Array<{ kind: 'rewrite' | 'question' | 'meta'; input: string; options: GenerateOptions }> = [];
  constructor(
    private readonly rewrite: (sentence: string, attempt: number) => string,
    private readonly question: (answer: string) => string,
  ) {}

  async generate(messages: ChatMessage[], options: GenerateOptions = {}): Promise<string> {
    const prompt = messages[messages.length - 1].content;
    const rewrite = /^Rewrite: (.*)$/s.exec(prompt);
    const question = /^Sentence: .*\nAnswer: (.*)$/s.exec(prompt);
    if (rewrite) {
      const attempt = this.calls.filter((c) => c.kind === 'rewrite' && c.input === rewrite[1]).length;
      this.calls.push({ kind: 'rewrite', input: rewrite[1], options });
      return this.rewrite(rewrite[1], attempt);
    }
    if (question) {
      this.calls.push({ kind: 'question', input: question[1], options });
      return this.question(question[1]);
    }
    this.calls.push({ kind: 'meta', input: '', options });
    return '{"description": "The Rhine, its length and the people living along it.", "tags": ["Rhine", "Rotterdam"]}';
  }
}

const REWORDED: Record<string, string> = {
  'The Rhine flows for 1,230 kilometres from the Alps to the North Sea.':
    'From the Alps to the North Sea, the Rhine runs for 1,230 kilometres.',
  'Rotterdam lies near its mouth.': 'Near the mouth of the river lies Rotterdam.',
  'About 8 million people live along the Dutch part of the river.': 'Along the Dutch part of the river live about 8 million people.',
};
const QUESTIONS: Record<string, string> = {
  '1,230 kilometres': 'Question: How far does the Rhine flow from the Alps to the North Sea?',
  '8 million': 'Question: How many people live along the Dutch part of the river?',
  Rotterdam: 'Question: Which city lies near the mouth of the Rhine?',
};

describe('LlmAugmenter, sentence unit', () => {
  it('rewords sentence by sentence (short ones kept), asks one question per answer span, and keeps paragraphs', async () => {
    const model = new SentenceModel(
      (s) => REWORDED[s] ?? 'unexpected',
      (a) => QUESTIONS[a] ?? 'unexpected',
    );
    const r = await new LlmAugmenter(model, { unit: 'sentence', qaCount: 3 }).augment({ id: 'rhine', text: RIVER }, { seed: 4 });
    expect(validateAugmentedRecord(r)).toEqual(r);
    expect(r.promptVersion).toBe(SENTENCE_PROMPT_VERSION);
    expect(r.status).toBe('ok');
    // "Rotterdam lies near its mouth." (5 words) and "A short note." are kept as written, without a call.
    expect(r.rewrite).toBe(
      'From the Alps to the North Sea, the Rhine runs for 1,230 kilometres. Rotterdam lies near its mouth.\n' +
        'A short note. Along the Dutch part of the river live about 8 million people.',
    );
    // Numbers first, then names, from the most informative sentences; the answer is the span, its sentence the full answer.
    expect(r.qa).toEqual([
      {
        question: 'How far does the Rhine flow from the Alps to the North Sea?',
        answer: '1,230 kilometres',
        fullAnswer: 'The Rhine flows for 1,230 kilometres from the Alps to the North Sea.',
      },
      {
        question: 'How many people live along the Dutch part of the river?',
        answer: '8 million',
        fullAnswer: 'About 8 million people live along the Dutch part of the river.',
      },
      { question: 'Which city lies near the mouth of the Rhine?', answer: 'Rotterdam', fullAnswer: 'Rotterdam lies near its mouth.' },
    ]);
    expect(model.calls.map((c) => c.kind)).toEqual(['rewrite', 'rewrite', 'question', 'question', 'question', 'meta']);
    expect(r.diagnostics).toEqual({ calls: 6, qaProposed: 3, qaGrounded: 3 });
    // Greedy first, one line out.
    for (const c of model.calls.filter((c) => c.kind !== 'meta'))
      expect(c.options).toMatchObject({ temperature: 0, stop: ['\n'], seed: 4 });
  });

  it('keeps a sentence it cannot reword as written, and fails the rewrite when fewer than half were reworded', async () => {
    // Every try at the first sentence drops its number; the retry samples (temperature 0.7, next seed).
    const dropFirst = (s: string) => (s.includes('1,230') ? 'The Rhine flows a long way from the Alps to the North Sea.' : REWORDED[s]);
    const half = new SentenceModel(dropFirst, (a) => QUESTIONS[a] ?? 'unexpected');
    const ok = await new LlmAugmenter(half, { unit: 'sentence', qaCount: 1 }).augment({ id: 'rhine', text: RIVER }, { seed: 4 });
    expect(ok.rewrite).toBe(
      'The Rhine flows for 1,230 kilometres from the Alps to the North Sea. Rotterdam lies near its mouth.\n' +
        'A short note. Along the Dutch part of the river live about 8 million people.',
    );
    expect(
      half.calls.filter((c) => c.kind === 'rewrite' && c.input.includes('1,230')).map((c) => [c.options.temperature, c.options.seed]),
    ).toEqual([
      [0, 4],
      [0.7, 5],
    ]);

    const none = new SentenceModel(
      (s) => (s.includes('8 million') ? 'Along the Dutch river live many people.' : dropFirst(s)),
      () => 'x',
    );
    const failed = await new LlmAugmenter(none, { unit: 'sentence', qaCount: 1 }).augment({ id: 'rhine', text: RIVER });
    expect(failed.status).toBe('failed');
    expect(failed.rewrite).toBeNull();
    expect(failed.failureReason).toMatch(/^rewrite: 0 of 2 sentences reworded \(last: rewrite (drops numbers: 8|too short .*)\); qa: /);
  });

  it('does not take a capitalised word opening a clause after a colon as an answer span', async () => {
    const asked: string[] = [];
    const model = new SentenceModel(
      (s) => s.replace('The study asked', 'Asked in the study was'),
      (a) => {
        asked.push(a);
        return 'Question: What is this about?';
      },
    );
    const text = 'The study asked one question: Compared with walking, is cycling to school more common among pupils?';
    await new LlmAugmenter(model, { unit: 'sentence', qaCount: 1, maxAttempts: 3 }).augment({ id: 'c', text });
    expect(asked).not.toContain('Compared');
    expect(asked.length).toBeGreaterThan(0);
  });

  it('moves on to the next answer span when a question is rejected, within qaCount × maxAttempts calls', async () => {
    const asked: string[] = [];
    const model = new SentenceModel(
      (s) => REWORDED[s],
      (a) => {
        asked.push(a);
        return a === 'Rotterdam' ? QUESTIONS.Rotterdam : 'Question: What is the length of the 1,230 kilometres?';
      },
    );
    const r = await new LlmAugmenter(model, { unit: 'sentence', qaCount: 1, maxAttempts: 3 }).augment({ id: 'rhine', text: RIVER });
    expect(asked).toEqual(['1,230 kilometres', '8 million', 'Rotterdam']);
    expect(r.qa.map((p) => p.answer)).toEqual(['Rotterdam']);

    const never = new SentenceModel(
      (s) => REWORDED[s],
      () => 'Question: What is this about?',
    );
    const r2 = await new LlmAugmenter(never, { unit: 'sentence', qaCount: 1, maxAttempts: 2 }).augment({ id: 'rhine', text: RIVER });
    expect(never.calls.filter((c) => c.kind === 'question')).toHaveLength(2);
    expect(r2.failureReason).toMatch(
      /^qa: no valid question for 2 answer spans \(last: question (off the passage|does not ask for a number).*\)$/,
    );
  });
});
