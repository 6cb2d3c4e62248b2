import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { retrieverContract } from '../testing/contract.js';
import { SqliteBm25Retriever, toMatchQuery } from './bm25.js';

const fresh = (): string => join(mkdtempSync(join(tmpdir(), 'rg-bm25-')), 'bm25.sqlite');

retrieverContract('sqlite (BM25)', async () => new SqliteBm25Retriever(fresh()));

describe('sqlite BM25 specifics', () => {
  it('quotes terms so user text is never FTS5 syntax, and drops stopwords', () => {
    expect(toMatchQuery('What is NEAR "the" cancer* OR x-ray?')).toBe('"what" OR "near" OR "cancer" OR "x" OR "ray"');
    expect(toMatchQuery('the of and')).toBeUndefined();
  });

  it('stems and folds diacritics (porter unicode61 remove_diacritics 2)', async () => {
    const r = new SqliteBm25Retriever(fresh());
    await r.add([
      { id: 'a', text: 'Naïve patients were vaccinated' },
      { id: 'b', text: 'unrelated text about rivers' },
    ]);
    expect((await r.search('naive patient vaccination', { k: 5 })).map((h) => h.id)).toEqual(['a']);
    await r.close();
  });

  it('persists across reopen', async () => {
    const path = fresh();
    const r = new SqliteBm25Retriever(path);
    await r.add([{ id: 'a', text: 'persisted passage' }]);
    await r.close();
    const again = new SqliteBm25Retriever(path);
    expect((await again.search('passage', { k: 1 }))[0]?.id).toBe('a');
    await again.close();
  });
});
