import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkRewrite } from './checks.js';
import { validateAugmentedRecord } from './record.js';
import { TemplateAugmenter, templateQa, templateRewrite, templateTags } from './template.js';
import { isGrounded, numbersIn } from './text.js';

const PASSAGE =
  'The Analytical Engine was designed by Charles Babbage in 1837. However, it was never built. ' +
  'Ada Lovelace wrote the first program for it in 1843. Her notes showed how the engine could compute Bernoulli numbers.';

describe('template augmenter', () => {
  it('makes cloze questions whose answers are spans of their sentence', () => {
    const qa = templateQa(PASSAGE, 3);
    expect(qa).toEqual([
      {
        question: 'Fill in the blank: The Analytical Engine was designed by Charles Babbage in _____.',
        answer: '1837',
        fullAnswer: 'The Analytical Engine was designed by Charles Babbage in 1837.',
      },
      {
        question: 'Fill in the blank: Ada Lovelace wrote the first program for it in _____.',
        answer: '1843',
        fullAnswer: 'Ada Lovelace wrote the first program for it in 1843.',
      },
      {
        question: 'Fill in the blank: Her notes showed how the engine could compute _____ numbers.',
        answer: 'Bernoulli',
        fullAnswer: 'Her notes showed how the engine could compute Bernoulli numbers.',
      },
    ]);
  });

  it('takes whole numbers with their unit, never part of a hyphenated or alphanumeric word', () => {
    const s = 'A 1.5-cm cut of 2-methoxyestradiol (2ME) in Statview5.5 took 12 patients (40%) over 3 days.';
    expect(templateQa(s, 6).map((p) => p.answer)).toEqual(['12 patients', '40%', '3 days']);
  });

  it('rewrites by reordering sentences and swapping safe words, keeping names and numbers', () => {
    expect(templateRewrite(PASSAGE)).toBe(
      'The Analytical Engine was designed by Charles Babbage in 1837. Ada Lovelace wrote the first program for it in 1843. ' +
        'Nevertheless, it was never built. Her notes demonstrated how the engine could compute Bernoulli numbers.',
    );
    expect(templateRewrite('Nothing to swap here.')).toBe('The text states the following. Nothing to swap here.');
  });

  it('tags names first, then repeated words', () => {
    expect(templateTags(PASSAGE)).toEqual(['Analytical Engine', 'engine', 'Charles Babbage', 'Ada Lovelace', 'Bernoulli']);
  });

  it('produces a valid, deterministic record', async () => {
    const a = new TemplateAugmenter({ qaCount: 2 });
    const r1 = await a.augment({ id: 'p1', text: PASSAGE, title: 'Engines' }, { seed: 1 });
    const r2 = await a.augment({ id: 'p1', text: PASSAGE, title: 'Engines' }, { seed: 99 });
    expect(r1).toEqual(r2);
    expect(validateAugmentedRecord(r1)).toEqual(r1);
    expect(r1).toMatchObject({ passageId: 'p1', title: 'Engines', status: 'ok', generator: 'template', promptVersion: 'rg-template-v1' });
    expect(r1.qa).toHaveLength(2);
    expect(r1.description).toBe('The Analytical Engine was designed by Charles Babbage in 1837.');
  });

  it('fails a passage with no usable sentence, with the reason', async () => {
    const r = await new TemplateAugmenter().augment({ id: 'x', text: 'Too short.' });
    expect(r.status).toBe('failed');
    expect(r.failureReason).toMatch(/no sentence/);
  });

  it('holds its invariants on real abstracts (PubMedQA)', () => {
    const file = join(import.meta.dirname, '../../../../shared/data/pubmedqa/ori_pqal.json');
    const data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { CONTEXTS: string[] }>;
    const abstracts = Object.values(data).map((d) => d.CONTEXTS.join(' '));
    expect(abstracts).toHaveLength(1000);
    for (const text of abstracts) {
      const rewrite = templateRewrite(text);
      expect(checkRewrite(rewrite, text).reason).toBeUndefined();
      expect(new Set(numbersIn(rewrite))).toEqual(new Set(numbersIn(text)));
      const qa = templateQa(text, 3);
      expect(qa.length).toBe(3);
      for (const p of qa) {
        expect(isGrounded(p.answer, text)).toBe(true);
        expect(p.question).toContain('_____');
      }
    }
  });
});
