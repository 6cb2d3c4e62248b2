import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FieldWeights } from '../fields.js';
import type { Document, Retriever } from '../types.js';

export { FaultServers, timedFailure } from './faults.js';

/** The same small corpus for every backend: distinct topics, so the right answer is not in doubt. */
export const CONTRACT_DOCS: Document[] = [
  {
    id: 'aspirin',
    title: 'Aspirin',
    text: 'Aspirin reduces fever and relieves mild pain by inhibiting cyclooxygenase enzymes.',
    metadata: { kind: 'drug', year: 1899 },
  },
  {
    id: 'insulin',
    title: 'Insulin',
    text: 'Insulin is a hormone produced by the pancreas that regulates blood glucose levels.',
    metadata: { kind: 'hormone', year: 1921 },
  },
  {
    id: 'photosynthesis',
    title: 'Photosynthesis',
    text: 'Plants convert sunlight, water and carbon dioxide into sugar and oxygen during photosynthesis.',
    metadata: { kind: 'process' },
  },
  {
    id: 'volcano',
    title: 'Volcano',
    text: 'A volcano erupts when molten rock called magma rises through the crust to the surface.',
    metadata: { kind: 'geology' },
  },
  {
    id: 'penicillin',
    title: 'Penicillin',
    text: 'Penicillin was the first antibiotic; it kills bacteria by blocking cell wall synthesis and can relieve the pain of infections.',
    metadata: { kind: 'drug', year: 1928 },
  },
  {
    id: 'marathon',
    title: 'Marathon',
    text: 'The marathon is a long-distance running race of about 42 kilometres.',
    metadata: { kind: 'sport' },
  },
  {
    id: 'jazz',
    title: 'Jazz',
    text: 'Jazz music originated in New Orleans and features improvisation and swing rhythms.',
    metadata: { kind: 'music' },
  },
  {
    id: 'telescope',
    title: 'Telescope',
    text: 'Galileo improved the telescope and observed the moons of Jupiter.',
    metadata: { kind: 'astronomy' },
  },
];

export const CONTRACT_QUERIES: Array<{ query: string; top: string }> = [
  { query: 'Which hormone made by the pancreas controls blood glucose?', top: 'insulin' },
  { query: 'antibiotic that kills bacteria', top: 'penicillin' },
  { query: 'magma rising through the crust', top: 'volcano' },
  { query: 'improvisation in New Orleans music', top: 'jazz' },
  { query: 'moons of Jupiter seen through a telescope', top: 'telescope' },
];

/**
 * The contract every backend passes: same documents, same queries, same expectations.
 * `open` returns a fresh, empty retriever, or `{ skip }` with the reason it cannot run here.
 */
export function retrieverContract(name: string, open: (() => Promise<Retriever>) | { skip: string }): void {
  if ('skip' in open) {
    console.warn(`[retriever contract] skipping ${name}: ${open.skip}`);
    describe.skip(`${name} retriever contract (skipped: ${open.skip})`, () => {
      it('needs a live backend', () => {});
    });
    return;
  }
  describe(`${name} retriever contract`, () => {
    let r: Retriever;
    beforeAll(async () => {
      r = await open();
      await r.add(CONTRACT_DOCS);
    });
    afterAll(async () => {
      await r?.close();
    });

    it('holds every added document', async () => {
      expect(await r.count()).toBe(CONTRACT_DOCS.length);
    });

    it.each(CONTRACT_QUERIES)('ranks "$top" first for "$query"', async ({ query, top }) => {
      const hits = await r.search(query, { k: 3 });
      expect(hits[0]?.id).toBe(top);
    });

    it('returns at most k unique hits, best first', async () => {
      const hits = await r.search('pain relief drug that reduces fever', { k: 2 });
      expect(hits.length).toBeGreaterThan(0);
      expect(hits.length).toBeLessThanOrEqual(2);
      expect(new Set(hits.map((h) => h.id)).size).toBe(hits.length);
      for (let i = 1; i < hits.length; i++) expect(hits[i].score).toBeLessThanOrEqual(hits[i - 1].score);
      expect(hits[0].id).toBe('aspirin');
    });

    it('filters by metadata', async () => {
      const hits = await r.search('relieve pain', { k: 5, filter: { kind: 'drug' } });
      expect(hits.map((h) => h.id).sort()).toEqual(['aspirin', 'penicillin']);
      const byYear = await r.search('relieve pain', { k: 5, filter: { kind: 'drug', year: 1928 } });
      expect(byYear.map((h) => h.id)).toEqual(['penicillin']);
      expect(await r.search('relieve pain', { k: 5, filter: { kind: 'no such kind' } })).toEqual([]);
    });

    it('batch search gives the same lists as single searches', async () => {
      const queries = CONTRACT_QUERIES.map((q) => q.query);
      const batch = await r.searchBatch(queries, { k: 3 });
      expect(batch).toHaveLength(queries.length);
      for (let i = 0; i < queries.length; i++) {
        const single = await r.search(queries[i], { k: 3 });
        expect(batch[i].map((h) => h.id)).toEqual(single.map((h) => h.id));
      }
    });

    it('replaces a document added again under the same id', async () => {
      await r.add([
        { id: 'jazz', title: 'Glaciers', text: 'Glaciers are slow rivers of ice that carve deep valleys.', metadata: { kind: 'geology' } },
      ]);
      expect(await r.count()).toBe(CONTRACT_DOCS.length);
      expect((await r.search('ice glaciers carving valleys', { k: 1 }))[0]?.id).toBe('jazz');
      const geology = await r.search('molten magma', { k: 5, filter: { kind: 'music' } });
      expect(geology).toEqual([]);
    });

    it('forgets deleted documents', async () => {
      await r.delete(['insulin', 'not-there']);
      expect(await r.count()).toBe(CONTRACT_DOCS.length - 1);
      const hits = await r.search('hormone from the pancreas regulating blood glucose', { k: 10 });
      expect(hits.map((h) => h.id)).not.toContain('insulin');
    });
  });
}

/** The contract documents, some with tags and a description whose words appear nowhere in any passage. */
export const TAGGED_DOCS: Document[] = CONTRACT_DOCS.map((d) => {
  if (d.id === 'aspirin') return { ...d, tags: ['NSAID', 'salicylate'], description: 'An analgesic from willow bark.' };
  if (d.id === 'volcano') return { ...d, tags: ['geophysics', 'Vesuvius'] };
  return d;
});

/**
 * What a backend that indexes tags and descriptions (sqlite, elasticsearch) does with them. `open` returns a fresh,
 * empty retriever searching with the given field weights (defaults when undefined), or `{ skip }`.
 */
export function fieldsContract(
  name: string,
  open: ((fieldWeights?: Partial<FieldWeights>) => Promise<Retriever>) | { skip: string },
): void {
  if ('skip' in open) {
    describe.skip(`${name} tags and description fields (skipped: ${open.skip})`, () => {
      it('needs a live backend', () => {});
    });
    return;
  }
  describe(`${name} tags and description fields`, () => {
    it('finds a document by a word only its tags hold, and by one only its description holds', async () => {
      const r = await open();
      try {
        await r.add(TAGGED_DOCS);
        expect((await r.search('salicylate', { k: 3 })).map((h) => h.id)).toEqual(['aspirin']);
        expect((await r.search('Vesuvius', { k: 3 })).map((h) => h.id)).toEqual(['volcano']);
        expect((await r.search('willow bark', { k: 3 })).map((h) => h.id)).toEqual(['aspirin']);
        // The passage still ranks as before for its own words.
        expect((await r.search('magma rising through the crust', { k: 1 }))[0]?.id).toBe('volcano');
      } finally {
        await r.close();
      }
    });

    it('forgets the tags of a document added again without them', async () => {
      const r = await open();
      try {
        await r.add(TAGGED_DOCS);
        await r.add(CONTRACT_DOCS.filter((d) => d.id === 'aspirin'));
        expect(await r.search('salicylate', { k: 3 })).toEqual([]);
        expect(await r.count()).toBe(CONTRACT_DOCS.length);
      } finally {
        await r.close();
      }
    });

    it('a higher tags weight ranks a tag match above a passage mention, a lower one below it', async () => {
      const docs: Document[] = [
        ...CONTRACT_DOCS,
        { id: 'tagged', text: 'A laboratory model organism used in genetics.', tags: ['zebrafish'] },
        {
          id: 'mention',
          text: 'Among the many species kept in the aquarium of the institute, one zebrafish was studied for a week in spring.',
        },
      ];
      const order = async (tags: number): Promise<string[]> => {
        const r = await open({ tags });
        try {
          await r.add(docs);
          return (await r.search('zebrafish', { k: 2 })).map((h) => h.id);
        } finally {
          await r.close();
        }
      };
      expect(await order(4)).toEqual(['tagged', 'mention']);
      expect(await order(0.25)).toEqual(['mention', 'tagged']);
    });
  });
}
