import { describe, expect, it } from 'vitest';
import { checkMetaOutput, checkQaOutput, checkQuestion, checkRewrite, cleanRewrite } from './checks.js';
import { acronymsIn, isGrounded, normalizeText, numbersIn, splitSentences, tokenOverlap } from './text.js';

const PASSAGE =
  'The Analytical Engine was designed by Charles Babbage in 1837. Ada Lovelace wrote the first program for it in 1843. ' +
  'Her notes were about 3 times longer than the article they annotated.';

describe('text helpers', () => {
  it('normalises case, quotes and punctuation but keeps decimals', () => {
    expect(normalizeText('  The \u201cEngine\u201d,  3.5 mm!  ')).toBe('the engine 3.5 mm');
  });

  it('splits sentences and keeps abbreviations and decimals inside them', () => {
    expect(splitSentences('Dose was 2.5 mg, e.g. Twice daily. Smith et al. Reported it. A second one!')).toEqual([
      'Dose was 2.5 mg, e.g. Twice daily.',
      'Smith et al. Reported it.',
      'A second one!',
    ]);
  });

  it('finds acronyms and coded names as written', () => {
    expect(acronymsIn('42 subjects with ESRD (K/DOQI, CD4, IL-6) and the Health Belief Model in the US.')).toEqual([
      'ESRD',
      'K/DOQI',
      'CD4',
      'IL-6',
      'US',
    ]);
  });

  it('finds numbers as written', () => {
    expect(numbersIn('In 1843, 40% of 1,200 rose by 3.5')).toEqual(['1843', '40%', '1,200', '3.5']);
  });

  it('grounds verbatim answers on word boundaries and paraphrased ones by content-token overlap', () => {
    expect(isGrounded('Charles Babbage', PASSAGE)).toBe(true);
    expect(isGrounded('charles  babbage.', PASSAGE)).toBe(true);
    expect(isGrounded('Babbage, Charles', PASSAGE)).toBe(true); // all content tokens present
    expect(isGrounded('Charles Darwin', PASSAGE)).toBe(false); // half the tokens
    expect(isGrounded('184', PASSAGE)).toBe(false); // substring of 1843, not a word
    expect(isGrounded('', PASSAGE)).toBe(false);
    expect(tokenOverlap('the first program', PASSAGE)).toBe(1);
  });
});

describe('checkQaOutput', () => {
  it('keeps grounded, short, distinct pairs and counts what was proposed', () => {
    const out = JSON.stringify([
      { question: 'Who designed the Analytical Engine?', answer: 'Charles Babbage' },
      { question: 'When did Ada Lovelace write the first program?', answer: 1843 },
      { question: 'Who designed the Analytical Engine?', answer: 'Charles Babbage' },
      { question: 'What is the capital of France?', answer: 'Paris' },
      { question: 'What did Ada write?', answer: '' },
    ]);
    const r = checkQaOutput(out, PASSAGE);
    expect(r.valid).toEqual([
      { question: 'Who designed the Analytical Engine?', answer: 'Charles Babbage' },
      { question: 'When did Ada Lovelace write the first program?', answer: '1843' },
    ]);
    expect(r.proposed).toBe(4);
    expect(r.grounded).toBe(3);
    expect(r.reasons).toEqual(['duplicate question', 'answer not grounded in the passage: "Paris"', 'answer missing']);
  });

  it('rejects answers made only of function words ("Both", "yes")', () => {
    const r = checkQaOutput(
      '[{"question": "Which of the two was first?", "answer": "Both"}, {"question": "Was it built at all?", "answer": "no"}]',
      PASSAGE + ' Both were built: no.',
    );
    expect(r.valid).toEqual([]);
    expect(r.reasons).toEqual(['answer has no content word: "Both"', 'answer has no content word: "no"']);
  });

  it('rejects long answers and too-short questions', () => {
    const long = 'Ada Lovelace wrote the first program for it in 1843 and her notes were about 3 times longer';
    const r = checkQaOutput(
      JSON.stringify([
        { question: 'Who?', answer: 'Ada Lovelace' },
        { question: 'What happened in 1843?', answer: long },
      ]),
      PASSAGE,
    );
    expect(r.valid).toEqual([]);
    expect(r.reasons).toEqual(['question too short: "Who?"', 'answer longer than 15 words']);
  });

  it('accepts other key spellings, wrappers and a full answer', () => {
    const r = checkQaOutput(
      "```json\n{'questions': [{'Question': 'In which year was the Engine designed?', 'Answer': '1837', 'full_answer': 'It was designed in 1837.'},]}\n```",
      PASSAGE,
    );
    expect(r.valid).toEqual([
      { question: 'In which year was the Engine designed?', answer: '1837', fullAnswer: 'It was designed in 1837.' },
    ]);
  });

  it('falls back to question/answer lines when there is no JSON', () => {
    const out =
      'Here are the questions:\n1. Q: Who designed the Analytical Engine?\nA: Charles Babbage\n' +
      '**Question 2:** When did Ada Lovelace write the first program?\n**Answer:** 1843\nQ: A question with no answer?';
    expect(checkQaOutput(out, PASSAGE).valid).toEqual([
      { question: 'Who designed the Analytical Engine?', answer: 'Charles Babbage' },
      { question: 'When did Ada Lovelace write the first program?', answer: '1843' },
    ]);
  });

  it('explains output with no usable JSON', () => {
    expect(checkQaOutput('', PASSAGE).reasons).toEqual(['empty output']);
    expect(checkQaOutput('Q: Who? A: Ada', PASSAGE).reasons).toEqual(['no JSON list of {question, answer} in the output']);
    expect(checkQaOutput('[{"title": "x"}]', PASSAGE).reasons).toEqual(['no JSON list of {question, answer} in the output']);
  });
});

describe('checkRewrite', () => {
  const good =
    'Charles Babbage designed the Analytical Engine in 1837. In 1843 Ada Lovelace wrote its first program; her notes ran about 3 times the length of the article they annotated.';

  it('accepts a rewrite that keeps the numbers', () => {
    expect(checkRewrite(good, PASSAGE)).toEqual({ rewrite: good });
  });

  it('strips lead-ins, fences and quotes', () => {
    expect(cleanRewrite(`Here is the rewritten passage:\n"${good}"`)).toBe(good);
    expect(cleanRewrite(`\`\`\`\n${good}\n\`\`\``)).toBe(good);
  });

  it('rejects copies, empty, too short, dropped and invented numbers', () => {
    expect(checkRewrite(PASSAGE, PASSAGE).reason).toBe('rewrite is a copy of the passage');
    expect(checkRewrite('   ', PASSAGE).reason).toBe('empty rewrite');
    expect(checkRewrite('Babbage built an engine.', PASSAGE).reason).toMatch(/^rewrite too short/);
    expect(checkRewrite(good.replace('1843', 'that year'), PASSAGE).reason).toBe('rewrite drops numbers: 1843');
    expect(checkRewrite(good.replace('about 3', 'about 3 or 4'), PASSAGE).reason).toBe('rewrite adds numbers: 4');
  });
});

describe('checkMetaOutput', () => {
  it('reads description and tags, dropping duplicates, over-long tags and tags unrelated to the passage', () => {
    const r = checkMetaOutput(
      'Sure: {"description": "Ada Lovelace and the first program for the Analytical Engine.", "tags": ["Ada Lovelace", "ada lovelace", "Analytical Engine", "a tag that is far far too long to be one", 1843, "test_score", "Pediatrics"]}',
      PASSAGE,
    );
    expect(r).toEqual({
      description: 'Ada Lovelace and the first program for the Analytical Engine.',
      tags: ['Ada Lovelace', 'Analytical Engine', '1843'],
    });
  });

  it('drops a description that is not about the passage', () => {
    const r = checkMetaOutput('{"description": "A new prevention for severed necrosis in pediatrics.", "tags": ["Babbage"]}', PASSAGE);
    expect(r).toEqual({ description: '', tags: ['Babbage'], reason: 'missing description' });
  });

  it('accepts comma-separated tags and reports what is missing', () => {
    expect(checkMetaOutput('{"tags": "Babbage, first program"}', PASSAGE)).toEqual({
      description: '',
      tags: ['Babbage', 'first program'],
      reason: 'missing description',
    });
    expect(checkMetaOutput('no idea', PASSAGE).reason).toBe('no JSON object with description and tags');
  });
});

describe('checkRewrite, strict (one sentence)', () => {
  const SENTENCE = '42 subjects with ESRD were included, 12 (28.6%) of them women.';

  it('accepts a rewording that keeps every number and acronym', () => {
    const out = 'Of the 42 subjects with ESRD who were included, 12 (28.6%) were women.';
    expect(checkRewrite(out, SENTENCE, { strict: true })).toEqual({ rewrite: out });
  });

  it('rejects a dropped number, a changed or added acronym, a long drift', () => {
    const dropped = 'The 42 subjects with ESRD who were included were 28.6% women.';
    expect(checkRewrite(dropped, SENTENCE, { strict: true }).reason).toBe('rewrite drops numbers: 12');
    expect(
      checkRewrite('42 subjects with End Stage Sickle Cell Disease were included, 12 (28.6%) women.', SENTENCE, { strict: true }).reason,
    ).toBe('rewrite drops terms: ESRD');
    expect(checkRewrite('Of 42 ESRD subjects in the WHO study, 12 (28.6%) were women.', SENTENCE, { strict: true }).reason).toBe(
      'rewrite adds terms: WHO',
    );
    const drift = `${SENTENCE.replace('.', ',')} and they were all followed for a long time in the clinic by the same team.`;
    expect(checkRewrite(drift, SENTENCE, { strict: true }).reason).toMatch(/^rewrite too long/);
  });
});

describe('checkQuestion', () => {
  const SENTENCE = 'Of 44 patients referred between December 2006 and May 2009, diagnosis was delayed in 14 (32%).';
  const PASSAGE_2 = `Infants with anorectal malformation were reviewed. ${SENTENCE}`;

  it('accepts a question for the answer, stripping the "Question:" label and anything after the first line', () => {
    expect(
      checkQuestion('Question: In how many of the 44 referred patients was diagnosis delayed?\nAnswer: 14', '14', SENTENCE, PASSAGE_2),
    ).toEqual({
      question: 'In how many of the 44 referred patients was diagnosis delayed?',
    });
  });

  it('rejects what is not a usable question', () => {
    const check = (q: string, answer = '14') => checkQuestion(q, answer, SENTENCE, PASSAGE_2).reason;
    expect(check('')).toBe('empty question');
    expect(check('Diagnosis was delayed in many patients.')).toMatch(/^not a question/);
    expect(check('How many?')).toBe('question of 2 words');
    expect(check('How many patients, 14 (32%), had a delayed diagnosis?')).toMatch(/^question contains its answer/);
    expect(check('How many of the 50 patients referred had a delayed diagnosis?')).toBe('question adds numbers: 50');
    expect(check('What was the first cohort of referred patients?')).toMatch(/^question does not ask for a number/);
    expect(check('How many students passed the driving exam at school?')).toMatch(/^question off the passage/);
    expect(check('How many of the 44 referred patients had a delayed diagnosis?', '14 (32%)')).toBeUndefined();
    expect(check('How many delayed diagnoses were there among the 44 patients?', '44 patients')).toMatch(/^question contains its answer/);
    expect(check('What was the number of patients referred with delayed diagnosis?', '2006')).toMatch(/^question does not ask for a year/);
    expect(check('In which year were the 44 patients first referred?', '2006')).toBeUndefined();
    expect(check('When were the patients referred?', 'December 2006')).toBeUndefined();
  });
});
