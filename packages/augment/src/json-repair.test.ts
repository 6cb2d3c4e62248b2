import { describe, expect, it } from 'vitest';
import { extractJson, type JsonValue } from './json-repair.js';

const QA = [
  { question: 'Who wrote it?', answer: 'Ada' },
  { question: 'When?', answer: '1843' },
];

describe('extractJson', () => {
  it('reads strict JSON without repair', () => {
    const r = extractJson(JSON.stringify(QA));
    expect(r).toEqual({ value: QA, repaired: false, truncated: false });
  });

  // Each case: broken model output -> the value a reader would have meant.
  const cases: Array<[string, string, JsonValue]> = [
    ['prose around it', `Sure! Here are the questions:\n${JSON.stringify(QA)}\nHope this helps.`, QA],
    ['json code fence', `Here you go:\n\`\`\`json\n${JSON.stringify(QA, null, 2)}\n\`\`\``, QA],
    ['unterminated code fence', `\`\`\`json\n${JSON.stringify(QA)}`, QA],
    ['trailing commas', '[{"question": "Who wrote it?", "answer": "Ada",}, {"question": "When?", "answer": "1843",},]', QA],
    ['single quotes', "[{'question': 'Who wrote it?', 'answer': 'Ada'}, {'question': 'When?', 'answer': '1843'}]", QA],
    [
      'apostrophe inside single quotes',
      "[{'question': 'What is Ada's field?', 'answer': 'maths'}]",
      [{ question: "What is Ada's field?", answer: 'maths' }],
    ],
    ['unquoted keys', '[{question: "Who wrote it?", answer: "Ada"}, {question: "When?", answer: "1843"}]', QA],
    ['missing comma between objects', '[{"question": "Who wrote it?", "answer": "Ada"}\n{"question": "When?", "answer": "1843"}]', QA],
    ['missing comma between members', '[{"question": "Who wrote it?"\n"answer": "Ada"}, {"question": "When?" "answer": "1843"}]', QA],
    [
      'truncated array: last element cut off',
      '[{"question": "Who wrote it?", "answer": "Ada"}, {"question": "When?", "answer": "1843"}, {"question": "Where did she li',
      QA,
    ],
    ['truncated after a comma', '[{"question": "Who wrote it?", "answer": "Ada"}, {"question": "When?", "answer": "1843"},', QA],
    [
      'truncated inside a value',
      '{"description": "A note", "tags": ["maths", "engines", "Babb',
      { description: 'A note', tags: ['maths', 'engines'] },
    ],
    ['python literals', "{'ok': True, 'missing': None, 'bad': False}", { ok: true, missing: null, bad: false }],
    ['numbers as answers', '[{"question": "When?", "answer": 1843}]', [{ question: 'When?', answer: 1843 }]],
    ['curly quotes', '[{\u201cquestion\u201d: \u201cWho wrote it?\u201d, \u201canswer\u201d: \u201cAda\u201d}]', [QA[0]]],
    ['escaped quotes and unicode', '{"a": "say \\"hi\\" \\u00e9", }', { a: 'say "hi" \u00e9' }],
    ['raw newline in a string', '{"a": "line one\nline two",}', { a: 'line one\nline two' }],
    ['nested wrapper object', 'Output: {"qa": [{"question": "Who wrote it?", "answer": "Ada",}]}', { qa: [QA[0]] }],
  ];
  for (const [name, input, expected] of cases) {
    it(`repairs: ${name}`, () => {
      const r = extractJson(input);
      expect(r?.value).toEqual(expected);
    });
  }

  it('says when it repaired and when the value was cut off', () => {
    expect(extractJson("{'a': 1}")).toMatchObject({ repaired: true, truncated: false });
    expect(extractJson('[{"a": 1}, {"a": 2')).toMatchObject({ value: [{ a: 1 }], repaired: true, truncated: true });
  });

  it('skips values the predicate rejects and takes the next one', () => {
    const text = 'See [1] and [2]. Answer: [{"question": "Who?", "answer": "Ada"}]';
    const r = extractJson(text, { accept: (v) => Array.isArray(v) && typeof v[0] === 'object' });
    expect(r?.value).toEqual([{ question: 'Who?', answer: 'Ada' }]);
    expect(extractJson(text)?.value).toEqual([1]);
  });

  it('skips brackets that open prose and finds the JSON after them', () => {
    const r = extractJson('[Note: the passage is short] {"description": "x", "tags": ["a"]}');
    expect(r?.value).toEqual({ description: 'x', tags: ['a'] });
  });

  it('returns null when there is no JSON at all', () => {
    expect(extractJson('')).toBeNull();
    expect(extractJson('I cannot answer that.')).toBeNull();
    expect(extractJson('Question: who? Answer: Ada')).toBeNull();
    expect(extractJson('[this is not json]')).toBeNull();
  });

  it('never throws on arbitrary input', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = '{}[]:,"\' \nabc123truefalsenull\\.-';
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(rand() * 40);
      let s = '';
      for (let j = 0; j < n; j++) s += alphabet[Math.floor(rand() * alphabet.length)];
      expect(() => extractJson(s)).not.toThrow();
    }
  });
});
