import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadChemProt } from './chemprot.js';
import { DatasetError } from './errors.js';
import { loadJsonlCorpus, loadJsonlQa } from './jsonl.js';
import { loadPopQa } from './popqa.js';
import { loadPubMedQa } from './pubmedqa.js';
import { DATASET_SPLITS, loadDataset } from './registry.js';
import { seededSplit, shuffledIndices } from './split.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rg-datasets-'));
});

function write(name: string, content: string): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  return path;
}

function pqal(records: Record<string, unknown>, truth: Record<string, string>, sub: string): string {
  write(`${sub}/ori_pqal.json`, JSON.stringify(records));
  write(`${sub}/test_ground_truth.json`, JSON.stringify(truth));
  return join(dir, sub);
}

const rec = (q: string, d: string) => ({ QUESTION: q, CONTEXTS: ['First part.', 'Second part.'], final_decision: d });

describe('PubMedQA PQA-L', () => {
  it('makes one document per abstract and splits by the official test ids', () => {
    const d = pqal({ '11': rec('Q one?', 'yes'), '22': rec('Q two?', 'no'), '33': rec('Q three?', 'maybe') }, { '22': 'no' }, 'pq1');
    const test = loadPubMedQa(d, 'test');
    expect(test.examples).toEqual([{ id: '22', question: 'Q two?', answers: ['no'], choices: ['yes', 'no', 'maybe'], goldDocIds: ['22'] }]);
    expect(test.documents).toHaveLength(3);
    expect(test.documents[0]).toEqual({ id: '11', text: 'First part. Second part.' });
    expect(test.split).toBe('test');
    const dev = loadPubMedQa(d, 'dev');
    expect(dev.examples.map((e) => e.id)).toEqual(['11', '33']);
    expect(dev.documents).toHaveLength(3);
    expect(loadPubMedQa(d, 'all').examples).toHaveLength(3);
    expect(test.primaryMetric).toBe('accuracy');
  });

  it('names the record and field of bad input', () => {
    const d = pqal({ '11': { QUESTION: 'Q?', CONTEXTS: 'not a list', final_decision: 'yes' } }, {}, 'pq2');
    expect(() => loadPubMedQa(d)).toThrow(/ori_pqal\.json \(field "11\.CONTEXTS"\): expected an array of strings, got a string/);
    const d2 = pqal({ '11': rec('Q?', 'perhaps') }, {}, 'pq3');
    expect(() => loadPubMedQa(d2)).toThrow(/field "11\.final_decision"\): expected one of yes\/no\/maybe, got "perhaps"/);
    const d3 = pqal({ '11': rec('Q?', 'yes') }, { '99': 'yes' }, 'pq4');
    expect(() => loadPubMedQa(d3)).toThrow(/test_ground_truth\.json \(field "99"\): PMID not found/);
    expect(() => loadPubMedQa(join(dir, 'absent'))).toThrow(DatasetError);
  });
});

describe('PopQA', () => {
  const q = (id: number, answers: string, titles: string[]) => ({
    id,
    question: `Question ${id}?`,
    possible_answers: answers,
    paragraphs: titles.map((t) => ({ title: t, text: `About ${t}.`, is_supporting: true })),
  });

  it('dedupes paragraphs by title and keeps accepted answers', () => {
    const f = write(
      'popqa.json',
      JSON.stringify([q(0, '["politician", "political leader"]', ['George', 'Politician']), q(1, '["poet"]', ['Ann', 'Politician'])]),
    );
    const ds = loadPopQa(f);
    expect(ds.examples[0]).toEqual({
      id: '0',
      question: 'Question 0?',
      answers: ['politician', 'political leader'],
      goldDocIds: ['George', 'Politician'],
    });
    expect(ds.documents.map((d) => d.id)).toEqual(['George', 'Politician', 'Ann']);
    expect(ds.primaryMetric).toBe('contains');
  });

  it('splits into fixed seeded dev and test halves; the corpus stays whole', () => {
    const f = write('popqa-split.json', JSON.stringify(Array.from({ length: 6 }, (_, i) => q(i, '["x"]', [`T${i}`]))));
    const all = loadPopQa(f);
    expect(all.split).toBe('all');
    // Fewer questions than POPQA_SPLIT.dev: every one is in dev (the real file's halves are checked in real-data.test.ts).
    expect(loadPopQa(f, 'dev').examples).toEqual(all.examples);
    expect(loadPopQa(f, 'test').examples).toEqual([]);
    expect(loadPopQa(f, 'test').documents).toEqual(all.documents);
  });

  it('names the record and field of bad input', () => {
    const f = write('popqa-bad.json', JSON.stringify([q(0, '["a"]', ['T']), q(1, 'not json', ['T'])]));
    expect(() => loadPopQa(f)).toThrow(/popqa-bad\.json \(field "\[1\]\.possible_answers"\): expected a JSON-encoded list/);
    const g = write('popqa-bad2.json', JSON.stringify([{ ...q(0, '["a"]', ['T']), question: 7 }]));
    expect(() => loadPopQa(g)).toThrow(/field "\[0\]\.question"\): expected a non-empty string, got a number/);
  });
});

describe('ChemProt', () => {
  it('reads labels and rejects unknown ones with the line number', () => {
    const d = join(dir, 'chem');
    write(
      'chem/test.txt',
      '{"text": "<< A >> blocks [[ B ]].", "label": "INHIBITOR", "metadata": []}\n\n{"text": "x", "label": "AGONIST"}\n',
    );
    const ds = loadChemProt(d, 'test');
    expect(ds.examples.map((e) => [e.id, e.answers[0]])).toEqual([
      ['test-1', 'INHIBITOR'],
      ['test-3', 'AGONIST'],
    ]);
    expect(ds.examples[0].choices).toHaveLength(13);
    write('chem/dev.txt', '{"text": "ok", "label": "INHIBITOR"}\n{"text": "ok", "label": "FRIEND"}\n');
    expect(() => loadChemProt(d, 'dev')).toThrow(/dev\.txt \(line 2, field "label"\): unknown label "FRIEND"/);
    write('chem/train.txt', '{"text": "ok", "label": "INHIBITOR"}\n{"text": "ok", "label": \n');
    expect(() => loadChemProt(d, 'train')).toThrow(/train\.txt \(line 2\): not valid JSON/);
  });
});

describe('generic JSON Lines QA and corpus', () => {
  it('reads answers, choices and gold ids', () => {
    const f = write(
      'qs.jsonl',
      [
        '{"id": "a", "question": "Who?", "answers": ["Ann", "Anna"], "gold_doc_ids": ["d1"]}',
        '{"question": "When?", "answer": "1901"}',
      ].join('\n'),
    );
    const ds = loadJsonlQa(f);
    expect(ds.name).toBe('qs');
    expect(ds.examples).toEqual([
      { id: 'a', question: 'Who?', answers: ['Ann', 'Anna'], goldDocIds: ['d1'] },
      { id: '2', question: 'When?', answers: ['1901'] },
    ]);
    expect(ds.primaryMetric).toBe('em');
    const c = write('mc.jsonl', '{"id": 1, "question": "Which?", "answer": "b", "choices": ["a", "b"]}\n');
    expect(loadJsonlQa(c).primaryMetric).toBe('accuracy');
  });

  it('names file, line and field of bad input', () => {
    const bad = (name: string, line2: string) => write(name, `{"question": "ok?", "answer": "x"}\n${line2}\n`);
    expect(() => loadJsonlQa(bad('b1.jsonl', '{"question": "", "answer": "x"}'))).toThrow(
      /b1\.jsonl \(line 2, field "question"\): expected a non-empty string, got an empty string/,
    );
    expect(() => loadJsonlQa(bad('b2.jsonl', '{"question": "q?"}'))).toThrow(/b2\.jsonl \(line 2, field "answers"\): expected "answers"/);
    expect(() => loadJsonlQa(bad('b3.jsonl', '{"question": "q?", "answers": ["x", 3]}'))).toThrow(
      /line 2, field "answers"\): expected an array of strings/,
    );
    expect(() => loadJsonlQa(bad('b4.jsonl', '{"question": "q?", "answer": "c", "choices": ["a", "b"]}'))).toThrow(
      /line 2, field "choices"\): answer "c" is not one of/,
    );
    expect(() => loadJsonlQa(bad('b5.jsonl', '[1, 2]'))).toThrow(/b5\.jsonl \(line 2\): expected a JSON object/);
    expect(() => loadJsonlQa(write('b6.jsonl', '\n'))).toThrow(/b6\.jsonl: no questions found/);
  });

  it('reads a corpus with text, contents or abstract', () => {
    const f = write('corpus.jsonl', '{"id": "d1", "title": "T", "text": "one"}\n{"id": 2, "contents": "two"}\n');
    expect(loadJsonlCorpus(f)).toEqual([
      { id: 'd1', title: 'T', text: 'one' },
      { id: '2', text: 'two' },
    ]);
    const g = write('corpus-bad.jsonl', '{"id": "d1", "text": "one"}\n{"id": "d1", "text": "again"}\n');
    expect(() => loadJsonlCorpus(g)).toThrow(/corpus-bad\.jsonl \(line 2, field "id"\): duplicate id "d1"/);
    const h = write('corpus-bad2.jsonl', '{"id": "d1", "body": "one"}\n');
    expect(() => loadJsonlCorpus(h)).toThrow(/line 1, field "text"\): expected a "text", "contents" or "abstract"/);
  });
});

describe('seeded splits', () => {
  const examples = Array.from({ length: 10 }, (_, i) => ({ id: `q${i}`, question: `Q${i}?`, answers: ['a'] }));

  it('shuffles indices the same way for a seed on every run', () => {
    const order = shuffledIndices(10, 2024);
    expect([...order].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(shuffledIndices(10, 2024)).toEqual(order);
    expect(shuffledIndices(10, 2025)).not.toEqual(order);
  });

  it('cuts examples into disjoint dev and test parts that cover them all, each in file order', () => {
    const { dev, test } = seededSplit(examples, 4, 2024);
    expect(dev).toHaveLength(4);
    expect(test).toHaveLength(6);
    const ids = (xs: { id: string }[]) => xs.map((e) => e.id);
    expect(new Set([...ids(dev), ...ids(test)]).size).toBe(10);
    for (const part of [dev, test])
      expect(part.map((e) => examples.indexOf(e))).toEqual(part.map((e) => examples.indexOf(e)).sort((a, b) => a - b));
    // The dev part is the first 4 positions of the seeded shuffle.
    expect(ids(dev)).toEqual(
      shuffledIndices(10, 2024)
        .slice(0, 4)
        .sort((a, b) => a - b)
        .map((i) => `q${i}`),
    );
  });
});

describe('loadDataset', () => {
  it('rejects unknown names and splits with what was expected', () => {
    expect(() => loadDataset('squad', { dataDir: '.' })).toThrow(
      /squad: unknown dataset \(expected pubmedqa, popqa, chemprot or jsonl:QUESTIONS\.jsonl\)/,
    );
    expect(() => loadDataset('chemprot', { dataDir: '.', split: 'validation' })).toThrow(
      /unknown split "validation" \(expected test, dev, train\)/,
    );
    expect(() => loadDataset('pubmedqa', { dataDir: '.', split: 'train' })).toThrow(/unknown split "train" \(expected test, dev, all\)/);
    const f = write('split.jsonl', '{"question": "q?", "answer": "a"}\n');
    expect(() => loadDataset(`jsonl:${f}`, { dataDir: '.', split: 'dev' })).toThrow(/unknown split "dev" \(expected all\)/);
  });

  it('loads each dataset’s default split without --split, and names the split it loaded', () => {
    const d = pqal({ '11': rec('Q one?', 'yes'), '22': rec('Q two?', 'no') }, { '22': 'no' }, 'reg/pubmedqa');
    const dataDir = join(d, '..');
    expect(DATASET_SPLITS.pubmedqa[0]).toBe('test');
    expect(loadDataset('pubmedqa', { dataDir })).toMatchObject({ split: 'test', examples: [{ id: '22' }] });
    expect(loadDataset('pubmedqa', { dataDir, split: 'dev' })).toMatchObject({ split: 'dev', examples: [{ id: '11' }] });
    expect(loadDataset('pubmedqa', { dataDir, split: 'all' }).examples).toHaveLength(2);
    const f = write('reg2.jsonl', '{"question": "q?", "answer": "a"}\n');
    expect(loadDataset(`jsonl:${f}`, { dataDir, split: 'all' }).split).toBe('all');
  });
});
