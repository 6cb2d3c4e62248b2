import { describe, expect, it } from 'vitest';
import { type ChatMessage, FatalGeneratorError, type GenerateOptions, type TextGenerator } from './generator.js';
import { LlmAugmenter } from './llm-augmenter.js';
import { PROMPT_VERSION } from './prompts.js';
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
