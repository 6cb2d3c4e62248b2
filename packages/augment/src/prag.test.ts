import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAugmented, readPassages } from './files.js';
import { isPragLayout, passagesFromPrag, recordsFromPrag, toPragItems } from './prag.js';
import type { AugmentedRecord } from './record.js';

/** Shaped like PRAG's data_aug/popqa/llama3.2-1b-instruct/total.json (content invented). */
const PUBLISHED = [
  {
    test_id: 0,
    question: 'What is the occupation of Ada?',
    answer: ['mathematician'],
    passages: ['Ada was a mathematician.', 'Ada wrote a program.'],
    augment: [
      {
        pid: 0,
        passage: 'Ada was a mathematician.',
        'llama3.2-1b-instruct_rewrite': 'Ada worked as a mathematician.',
        'llama3.2-1b-instruct_qa': [
          { question: 'What was Ada?', answer: 'a mathematician', full_answer: 'Ada was a mathematician.' },
          { question: 'Who was a mathematician?', answer: ['Ada'], full_answer: 'Ada.' },
        ],
      },
      {
        pid: 1,
        passage: 'Ada wrote a program.',
        'llama3.2-1b-instruct_rewrite': 'A program was written by Ada.',
        'llama3.2-1b-instruct_qa': 'the model gave up: raw text',
      },
    ],
  },
];

describe('the published (PRAG) layout', () => {
  it('is recognised, and its passages are read with item-scoped ids', () => {
    expect(isPragLayout(PUBLISHED)).toBe(true);
    expect(isPragLayout([{ id: 1, text: 'x' }])).toBe(false);
    expect(passagesFromPrag(PUBLISHED, 'f.json')).toEqual([
      { id: '0:0', text: 'Ada was a mathematician.' },
      { id: '0:1', text: 'Ada wrote a program.' },
    ]);
  });

  it('reads existing augmented data as records (the model name from the key prefix)', () => {
    const records = recordsFromPrag(PUBLISHED, 'f.json');
    expect(records[0]).toEqual({
      passageId: '0:0',
      passage: 'Ada was a mathematician.',
      rewrite: 'Ada worked as a mathematician.',
      qa: [
        { question: 'What was Ada?', answer: 'a mathematician', fullAnswer: 'Ada was a mathematician.' },
        { question: 'Who was a mathematician?', answer: 'Ada', fullAnswer: 'Ada.' },
      ],
      tags: [],
      description: '',
      generator: 'llama3.2-1b-instruct',
      promptVersion: 'prag',
      status: 'ok',
    });
    expect(records[1]).toMatchObject({ status: 'failed', failureReason: '"llama3.2-1b-instruct_qa" is not a list' });
  });

  it('writes records back into the input items, leaving failed passages out as the original does', () => {
    const records = recordsFromPrag(PUBLISHED, 'f.json');
    const items = toPragItems(records, { augmentModel: 'smollm2', items: PUBLISHED });
    expect(items).toEqual([
      {
        test_id: 0,
        question: 'What is the occupation of Ada?',
        answer: ['mathematician'],
        passages: ['Ada was a mathematician.'],
        augment: [
          {
            pid: 0,
            passage_id: '0:0',
            passage: 'Ada was a mathematician.',
            smollm2_rewrite: 'Ada worked as a mathematician.',
            smollm2_qa: [
              { question: 'What was Ada?', answer: 'a mathematician', full_answer: 'Ada was a mathematician.' },
              { question: 'Who was a mathematician?', answer: 'Ada', full_answer: 'Ada.' },
            ],
          },
        ],
      },
    ]);
    // Round trip: the written layout reads back to the same ok record (generator now named by the new prefix).
    expect(recordsFromPrag(items, 'g.json')).toEqual([{ ...records[0], generator: 'smollm2' }]);
  });

  it('writes records without input items as one item each, with full_answer falling back to the answer', () => {
    const record: AugmentedRecord = {
      passageId: 'doc-7',
      passage: 'P.',
      rewrite: 'R.',
      qa: [{ question: 'Q?', answer: 'A' }],
      tags: ['t'],
      description: 'd',
      generator: 'template',
      promptVersion: 'v',
      status: 'ok',
    };
    expect(toPragItems([record], { augmentModel: 'template' })).toEqual([
      {
        id: 'doc-7',
        passages: ['P.'],
        augment: [
          {
            pid: 0,
            passage_id: 'doc-7',
            passage: 'P.',
            template_rewrite: 'R.',
            template_qa: [{ question: 'Q?', answer: 'A', full_answer: 'A' }],
          },
        ],
      },
    ]);
  });

  it('is accepted by the file readers, and bad items are named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-prag-'));
    const file = join(dir, 'total.json');
    writeFileSync(file, JSON.stringify(PUBLISHED, null, 4));
    expect((await readPassages(file)).passages.map((p) => p.id)).toEqual(['0:0', '0:1']);
    expect((await readAugmented(file)).map((r) => r.status)).toEqual(['ok', 'failed']);
    writeFileSync(file, JSON.stringify([{ passages: ['ok', 42] }]));
    await expect(readPassages(file)).rejects.toThrow(`${file}: item 0: field "passages[1]": expected a non-empty string`);
  });
});
