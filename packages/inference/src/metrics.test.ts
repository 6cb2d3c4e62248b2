import { describe, expect, it } from 'vitest';
import { accuracy, answerInOutput, exactMatch, macroF1, normalizeAnswer, tokenF1 } from './metrics.js';

describe('SQuAD normalisation, EM and F1', () => {
  it('lower-cases, drops punctuation and articles, collapses spaces', () => {
    expect(normalizeAnswer('  The  Eiffel-Tower!  ')).toBe('eiffeltower');
    expect(normalizeAnswer('An apple, a pear and THE plum.')).toBe('apple pear and plum');
    expect(normalizeAnswer('“Théâtre” — Paris')).toBe('théâtre paris');
    // "theatre" contains "the" but is not the article.
    expect(normalizeAnswer('theatre')).toBe('theatre');
  });

  it('exact match against any accepted answer', () => {
    expect(exactMatch('the Paris.', ['London', 'paris'])).toBe(1);
    expect(exactMatch('Paris France', ['paris'])).toBe(0);
  });

  it('token F1 (hand-checked)', () => {
    // pred {in, paris, france}, gold {paris}: P=1/3, R=1 -> F1 = 0.5
    expect(tokenF1('in Paris France', ['Paris'])).toBeCloseTo(0.5, 12);
    // pred [red, red, car], gold [red, car]: common 2, P=2/3, R=1 -> 0.8 (a repeated token counts once per gold)
    expect(tokenF1('a red red car', ['red car'])).toBeCloseTo(0.8, 12);
    // best of several answers
    expect(tokenF1('red car', ['blue bus', 'red car'])).toBe(1);
    expect(tokenF1('nothing alike', ['red car'])).toBe(0);
    expect(tokenF1('the', ['a'])).toBe(1); // both normalise to empty
  });
});

describe('answer in output (PopQA)', () => {
  it('matches on word boundaries after normalisation', () => {
    expect(answerInOutput('He was born in Paris, France.', ['paris'])).toBe(1);
    expect(answerInOutput('a police officer', ['pol', 'politician'])).toBe(0);
    expect(answerInOutput('She is a political leader.', ['politician', 'political leader'])).toBe(1);
    expect(answerInOutput('anything', [''])).toBe(0);
  });
});

describe('classification metrics', () => {
  const golds = ['yes', 'yes', 'no', 'maybe', 'no', 'yes'];
  const preds = ['yes', 'no', 'no', 'yes', 'no', 'yes'];

  it('accuracy', () => {
    expect(accuracy(preds, golds)).toBeCloseTo(4 / 6, 12);
    expect(() => accuracy(['yes'], golds)).toThrow(/1 predictions for 6/);
  });

  it('macro-F1 (hand-checked)', () => {
    // yes: tp2 fp1 fn1 -> 2/3; no: tp2 fp1 fn0 -> 4/5; maybe: tp0 fn1 -> 0. mean = (2/3 + 4/5 + 0) / 3
    const expected = (2 / 3 + 4 / 5 + 0) / 3;
    expect(macroF1(preds, golds)).toBeCloseTo(expected, 12);
    expect(macroF1(preds, golds, ['yes', 'no', 'maybe'])).toBeCloseTo(expected, 12);
    // a listed label absent from both sides is left out rather than counted as 0
    expect(macroF1(preds, golds, ['yes', 'no', 'maybe', 'unused'])).toBeCloseTo(expected, 12);
    expect(macroF1(golds, golds)).toBe(1);
  });
});
