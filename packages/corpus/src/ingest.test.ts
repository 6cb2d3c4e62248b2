import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chunkDocument } from './chunk.js';
import { IngestError, ingest } from './ingest.js';
import { CorpusStore } from './store.js';

// The shared datasets sit beside the project root (../shared/data); a user's fresh clone does not have them.
const DATA = join(import.meta.dirname, '../../../../shared/data');
const hasData = existsSync(join(DATA, 'pubmedqa/ori_pqal.json'));
if (!hasData) console.warn(`skipping the real-file ingest checks: ${DATA} is absent (see each dataset's SOURCE.md)`);
const opened: CorpusStore[] = [];

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'rg-corpus-'));
}

function store(dir = tmp()): CorpusStore {
  const s = CorpusStore.open(dir);
  opened.push(s);
  return s;
}

afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

describe('ingest jsonl', () => {
  const lines = [
    '{"id": "a", "title": "Alpha", "contents": "aspirin lowers fever", "year": 2001}',
    '{"id": "b", "contents": "broken',
    '{"id": "c", "abstract": 42}',
    '{"id": 7, "text": "numeric ids become strings"}',
    '',
    '{"title": "no id", "text": "x"}',
    '{"id": "d", "contents": "aspirin lowers fever", "title": "Alpha"}',
    '{"id": "a", "contents": "different text under a used id"}',
  ];

  it('stores good lines, skips bad ones with line numbers, dedupes by content', async () => {
    const dir = tmp();
    const file = join(dir, 'in.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const s = store(join(dir, 'store'));
    const sum = await ingest(s, { input: file, format: 'jsonl' });
    expect(sum.added).toBe(2);
    expect(sum.duplicates).toBe(1);
    expect(sum.skipped).toBe(4);
    expect(sum.badRecords.map((b) => b.line)).toEqual([2, 3, 6, 8]);
    expect(sum.badRecords[0].message).toMatch(/broken JSON/);
    expect(sum.badRecords[1].message).toMatch(/field "abstract": expected non-empty text, got number/);
    expect(sum.badRecords[2].message).toMatch(/field "id"/);
    expect(sum.badRecords[3].message).toMatch(/already stored with different content/);
    expect(s.get('a')).toMatchObject({ title: 'Alpha', text: 'aspirin lowers fever', metadata: { year: 2001 } });
    expect(s.get('7')?.text).toBe('numeric ids become strings');

    const again = await ingest(s, { input: file, format: 'jsonl' });
    expect(again.added).toBe(0);
    expect(s.count()).toBe(2);
  });

  it('--strict stops at the first bad line, naming file and line', async () => {
    const dir = tmp();
    const file = join(dir, 'in.jsonl');
    writeFileSync(file, lines.join('\n'));
    await expect(ingest(store(), { input: file, format: 'jsonl', strict: true })).rejects.toThrow(IngestError);
    await expect(ingest(store(), { input: file, format: 'jsonl', strict: true })).rejects.toThrow(
      `${file}:2: broken JSON (Unterminated string`,
    );
  });

  it('resumes an interrupted ingest from the last committed batch', async () => {
    const dir = tmp();
    const file = join(dir, 'in.jsonl');
    const n = 1000;
    writeFileSync(file, Array.from({ length: n }, (_, i) => JSON.stringify({ id: `d${i}`, text: `passage number ${i}` })).join('\r\n'));
    const s = store(join(dir, 'store'));
    let batches = 0;
    const crash = ingest(s, {
      input: file,
      format: 'jsonl',
      batchSize: 100,
      onProgress: () => {
        if (++batches === 3) throw new Error('simulated crash');
      },
    });
    await expect(crash).rejects.toThrow('simulated crash');
    expect(s.count()).toBe(300);
    const resumed = await ingest(s, { input: file, format: 'jsonl', batchSize: 100 });
    expect(resumed.resumedFromByte).toBeGreaterThan(0);
    expect(resumed.records).toBe(700);
    expect(resumed.added).toBe(700);
    expect(resumed.duplicates).toBe(0);
    expect(s.count()).toBe(n);
    expect(s.get('d999')?.text).toBe('passage number 999');
  });
});

describe('ingest tsv', () => {
  it('reads a DPR-style file with a header and quoted fields', async () => {
    const dir = tmp();
    const file = join(dir, 'psgs.tsv');
    writeFileSync(file, 'id\ttext\ttitle\n1\t"Aaron ( or ; ""Aharon"") was a prophet"\tAaron\n2\tonly two\n3\tplain text\tTitle 3\n');
    const s = store();
    const sum = await ingest(s, { input: file, format: 'tsv' });
    expect(sum.added).toBe(2);
    expect(sum.badRecords).toEqual([{ line: 3, message: 'expected 3 tab-separated columns, got 2' }]);
    expect(s.get('1')).toMatchObject({ title: 'Aaron', text: 'Aaron ( or ; "Aharon") was a prophet' });
  });
});

describe.skipIf(!hasData)('ingest PubMedQA and PopQA (real files)', () => {
  it('PubMedQA PQA-L: one document per abstract, contexts joined, question left out', async () => {
    const s = store();
    const sum = await ingest(s, { input: join(DATA, 'pubmedqa/ori_pqal.json'), format: 'pubmedqa' });
    expect(sum).toMatchObject({ records: 1000, added: 1000, skipped: 0 });
    const doc = s.get('21645374');
    expect(doc?.text.startsWith('Programmed cell death (PCD) is the regulated death of cells within an organism.')).toBe(true);
    expect(doc?.text).not.toContain('Do mitochondria play a role');
    expect(doc?.metadata).toEqual({ source: 'pubmedqa', year: '2011' });
  });

  it('PubMedQA resumes inside the JSON document', async () => {
    const s = store();
    const input = join(DATA, 'pubmedqa/ori_pqal.json');
    let batches = 0;
    const crash = ingest(s, {
      input,
      format: 'pubmedqa',
      batchSize: 250,
      onProgress: () => {
        if (++batches === 2) throw new Error('crash');
      },
    });
    await expect(crash).rejects.toThrow('crash');
    expect(s.count()).toBe(500);
    const resumed = await ingest(s, { input, format: 'pubmedqa' });
    expect(resumed).toMatchObject({ records: 500, added: 500, duplicates: 0, skipped: 0 });
    expect(s.count()).toBe(1000);
  });

  it('PopQA: every paragraph once, keyed by Wikipedia title', async () => {
    const s = store();
    const sum = await ingest(s, { input: join(DATA, 'popqa/popqa.json'), format: 'popqa' });
    expect(sum.records).toBe(1000);
    // 2,000 paragraphs, 1,475 distinct pages (counted independently with Python's json module).
    expect(sum.added).toBe(1475);
    expect(sum.duplicates).toBe(525);
    expect(s.get('George Rankin')?.text).toMatch(/^George James Rankin/);
  });

  it('reports a broken entry of a JSON document with its line and skips it', async () => {
    const dir = tmp();
    const file = join(dir, 'pq.json');
    writeFileSync(
      file,
      '{\n "1": {"CONTEXTS": ["first abstract"]},\n "2": {"CONTEXTS": "not a list"},\n "3": {"CONTEXTS": ["third — ünïcode"]}\n}\n',
    );
    const s = store();
    const sum = await ingest(s, { input: file, format: 'pubmedqa' });
    expect(sum.added).toBe(2);
    expect(sum.badRecords).toEqual([{ line: 3, message: 'entry "2" field "CONTEXTS": expected a non-empty array of strings, got string' }]);
    expect(s.get('3')?.text).toBe('third — ünïcode');
  });

  it('a truncated JSON document is an error naming the file', async () => {
    const dir = tmp();
    const file = join(dir, 'pq.json');
    writeFileSync(file, '[{"paragraphs": []},\n');
    await expect(ingest(store(), { input: file, format: 'popqa' })).rejects.toThrow(
      `${file}:2: file ends inside the top-level array (truncated?)`,
    );
  });
});

describe('chunking', () => {
  it('splits into overlapping windows of words', () => {
    const text = Array.from({ length: 10 }, (_, i) => `w${i}`).join(' ');
    const chunks = chunkDocument({ id: 'x', text, metadata: { k: 1 } }, { tokens: 4, overlap: 1 });
    expect(chunks.map((c) => c.text)).toEqual(['w0 w1 w2 w3', 'w3 w4 w5 w6', 'w6 w7 w8 w9']);
    expect(chunks.map((c) => c.id)).toEqual(['x#0', 'x#1', 'x#2']);
    expect(chunks[1].metadata).toEqual({ k: 1, parent_id: 'x', chunk: 1 });
    expect(chunkDocument({ id: 'y', text: 'short text' }, { tokens: 4, overlap: 1 })).toEqual([{ id: 'y', text: 'short text' }]);
    expect(() => chunkDocument({ id: 'z', text }, { tokens: 4, overlap: 4 })).toThrow(/overlap/);
  });

  it('ingest applies chunking', async () => {
    const dir = tmp();
    const file = join(dir, 'in.jsonl');
    writeFileSync(file, `${JSON.stringify({ id: 'long', text: 'a b c d e f g' })}\n`);
    const s = store();
    const sum = await ingest(s, { input: file, format: 'jsonl', chunk: { tokens: 3, overlap: 0 } });
    expect(sum.added).toBe(3);
    expect(s.get('long#2')?.text).toBe('g');
  });
});

describe('readQuestions', () => {
  it.skipIf(!hasData)('reads PubMedQA questions keyed by PMID', async () => {
    const { readQuestions } = await import('./questions.js');
    const pq = [];
    for await (const q of readQuestions(join(DATA, 'pubmedqa/ori_pqal.json'), 'pubmedqa')) pq.push(q);
    expect(pq).toHaveLength(1000);
    expect(pq[0].question).toEqual({
      id: '21645374',
      text: 'Do mitochondria play a role in remodelling lace plant leaves during programmed cell death?',
    });
  });

  it('reads JSON Lines questions, reporting bad lines', async () => {
    const { readQuestions } = await import('./questions.js');
    const file = join(tmp(), 'q.jsonl');
    writeFileSync(file, '{"id": "q1", "question": "why?"}\n{"query": "no id"}\n{"id": 3}\n');
    const got = [];
    for await (const q of readQuestions(file, 'jsonl')) got.push(q);
    expect(got).toEqual([
      { line: 1, question: { id: 'q1', text: 'why?' } },
      { line: 2, question: { id: '2', text: 'no id' } },
      { line: 3, error: 'expected a "question", "query" or "text" string field' },
    ]);
  });
});

describe('readJsonMembers', () => {
  it('follows strings with escaped quotes and backslashes, and counts lines', async () => {
    const { readJsonMembers } = await import('./read.js');
    const file = join(tmp(), 'a.json');
    const members = ['{"t": "a \\"quoted\\" [not] {structure}, here"}', '"ends with backslash \\\\"', '[1, {"x": "]"}]', '42'];
    writeFileSync(file, `[\n${members.join(',\n')}\n]\n`);
    const got = [];
    for await (const m of readJsonMembers(file, 'array')) got.push(m);
    expect(got.map((m) => m.text)).toEqual(members);
    expect(got.map((m) => m.line)).toEqual([2, 3, 4, 5]);
    expect(JSON.parse(got[0].text).t).toBe('a "quoted" [not] {structure}, here');
  });
});
