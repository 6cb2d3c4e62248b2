import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkRewrite } from './checks.js';
import { validateAugmentedRecord } from './record.js';
import { phrasedQa, TemplateAugmenter, templateQa, templateRewrite, templateTags } from './template.js';
import { isGrounded, numbersIn } from './text.js';

// The shared datasets sit beside the project root; a user's fresh clone does not have them.
const PUBMEDQA = join(import.meta.dirname, '../../../../shared/data/pubmedqa/ori_pqal.json');
if (!existsSync(PUBMEDQA)) console.warn(`skipping the template invariants on real abstracts: ${PUBMEDQA} is absent`);

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

  it.skipIf(!existsSync(PUBMEDQA))('holds its invariants on real abstracts (PubMedQA)', () => {
    const file = PUBMEDQA;
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

describe('template augmenter, several phrasings', () => {
  const BIO =
    'Eleanor Davis (born 1983) is an American cartoonist. She won the Eisner Award in 2009. ' +
    'Her first book was published by Fantagraphics. She lives in Athens, Georgia.';

  it('keeps one phrasing exactly as before (default), so existing augment runs resume unchanged', async () => {
    const one = await new TemplateAugmenter({ qaCount: 3 }).augment({ id: 'a', text: PASSAGE });
    const explicit = await new TemplateAugmenter({ qaCount: 3, phrasings: 1 }).augment({ id: 'a', text: PASSAGE });
    expect(explicit).toEqual(one);
    expect(one.rewrites).toBeUndefined();
    expect(one.qa).toEqual(templateQa(PASSAGE, 3));
  });

  it('adds distinct rewrites that keep every number and name, one stating the fact next to the title', async () => {
    const aug = new TemplateAugmenter({ qaCount: 2, phrasings: 3 });
    const r = await aug.augment({ id: 'ed', title: 'Eleanor Davis (cartoonist)', text: BIO });
    expect(aug.promptVersion).not.toBe(new TemplateAugmenter().promptVersion);
    expect(r.rewrites).toHaveLength(2);
    const all = [BIO, r.rewrite ?? '', ...(r.rewrites ?? [])].map((t) => t.toLowerCase().replace(/\W+/g, ' '));
    expect(new Set(all).size).toBe(4);
    for (const text of r.rewrites ?? []) {
      expect(numbersIn(text)).toEqual(expect.arrayContaining(numbersIn(BIO)));
      for (const name of ['Eisner Award', 'Fantagraphics', 'Athens, Georgia']) expect(text).toContain(name);
    }
    // "She won the Eisner Award" is also said as "Eleanor Davis won ...", the title's qualifier dropped.
    expect((r.rewrites ?? []).join(' ')).toContain('Eleanor Davis won the Eisner Award in 2009.');
    expect(validateAugmentedRecord(JSON.parse(JSON.stringify(r)), 'x').rewrites).toEqual(r.rewrites);
  });

  it('asks each fact in several forms, the answer verbatim from its sentence', () => {
    const qa = templateQa(BIO, 2);
    const phrased = phrasedQa(BIO, 2, 3, 'Eleanor Davis');
    expect(phrased).toHaveLength(6);
    for (const [i, pair] of phrased.entries()) {
      const fact = qa[Math.floor(i / 3)];
      expect(pair.answer).toBe(fact.answer);
      expect(pair.fullAnswer).toBe(fact.fullAnswer);
      expect(isGrounded(pair.answer, BIO)).toBe(true);
    }
    expect(new Set(phrased.map((p) => p.question)).size).toBe(6);
    expect(phrased[1].question).toMatch(/^About Eleanor Davis, fill in the blank: /);
  });

  it('refuses a phrasing count that is not a positive integer, naming it', () => {
    expect(() => new TemplateAugmenter({ phrasings: 0 })).toThrow(/phrasings: expected a positive integer, got 0/);
  });

  it('rejects a record whose rewrites is not an array of strings, naming the field', () => {
    const bad = {
      ...JSON.parse(
        JSON.stringify({
          passageId: 'p',
          passage: 'x',
          rewrite: null,
          qa: [],
          tags: [],
          description: '',
          generator: 'g',
          promptVersion: 'v',
          status: 'failed',
          failureReason: 'r',
        }),
      ),
      rewrites: [3],
    };
    expect(() => validateAugmentedRecord(bad, 'f.jsonl line 2')).toThrow(/f.jsonl line 2: field "rewrites"/);
  });
});
