import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadChemProt } from './chemprot.js';
import { loadPopQa } from './popqa.js';
import { loadPubMedQa } from './pubmedqa.js';

// The shared datasets sit beside the project root (../shared/data); a fresh clone does not have them.
const DATA = resolve(import.meta.dirname, '../../../../../shared/data');
const present = existsSync(DATA);
if (!present) console.warn(`skipping the real-data checks: ${DATA} is absent (see each dataset's SOURCE.md)`);

describe.skipIf(!present)('loaders on the real files in ../shared/data', () => {
  it('PubMedQA PQA-L: 1,000 abstracts, official test split of 500 (yes 276 / no 169 / maybe 55)', () => {
    const ds = loadPubMedQa(join(DATA, 'pubmedqa'), 'test');
    expect(ds.documents).toHaveLength(1000);
    expect(ds.examples).toHaveLength(500);
    const count = (l: string) => ds.examples.filter((e) => e.answers[0] === l).length;
    expect([count('yes'), count('no'), count('maybe')]).toEqual([276, 169, 55]);
    expect(loadPubMedQa(join(DATA, 'pubmedqa'), 'train').examples).toHaveLength(500);
  });

  it('PopQA: 1,000 questions, 2 gold paragraphs each, an accepted answer inside one of them', () => {
    const ds = loadPopQa(join(DATA, 'popqa', 'popqa.json'));
    expect(ds.examples).toHaveLength(1000);
    const byId = new Map(ds.documents.map((d) => [d.id, d]));
    for (const ex of ds.examples) {
      expect(ex.goldDocIds).toHaveLength(2);
      const text = ex.goldDocIds!.map((id) => byId.get(id)!.text).join(' ');
      expect(ex.answers.some((a) => text.includes(a))).toBe(true);
    }
  });

  it('ChemProt: split sizes 4,169 / 2,427 / 3,469', () => {
    expect(loadChemProt(join(DATA, 'chemprot'), 'train').examples).toHaveLength(4169);
    expect(loadChemProt(join(DATA, 'chemprot'), 'dev').examples).toHaveLength(2427);
    expect(loadChemProt(join(DATA, 'chemprot'), 'test').examples).toHaveLength(3469);
  });
});
