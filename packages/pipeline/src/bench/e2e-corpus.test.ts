import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpusInput } from './e2e-corpus.js';
import { BenchInputError } from './errors.js';

describe('corpusInput', () => {
  it('takes --corpus first, the published files of PubMedQA and PopQA, and asks for --corpus otherwise', () => {
    expect(corpusInput({ dataset: 'popqa', corpus: 'c.jsonl' }, 'popqa', '/data', '/cwd', '/out')).toEqual({ file: '/cwd/c.jsonl' });
    expect(corpusInput({ dataset: 'pubmedqa' }, 'pubmedqa', '/data', '/cwd', '/out')).toEqual({
      file: join('/data', 'pubmedqa', 'ori_pqal.json'),
      format: 'pubmedqa',
    });
    expect(corpusInput({ dataset: 'popqa' }, 'popqa', '/data', '/cwd', '/out')).toEqual({
      file: join('/data', 'popqa', 'popqa.json'),
      format: 'popqa',
    });
    const ask = () => corpusInput({ dataset: 'jsonl:q.jsonl' }, 'q', '/data', '/cwd', '/out');
    expect(ask).toThrow(BenchInputError);
    expect(ask).toThrow('--dataset jsonl:q.jsonl: give the corpus with --corpus CORPUS.jsonl');
  });
});
