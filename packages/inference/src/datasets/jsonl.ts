import { basename } from 'node:path';
import { DatasetError } from './errors.js';
import { field, readJsonLines } from './read.js';
import type { CorpusDocument, Dataset, QaExample } from './types.js';

/**
 * The generic question format, one JSON object per line:
 * `{"id"?: string|number, "question": string, "answers": string[] | "answer": string, "choices"?: string[], "gold_doc_ids"?: string[]}`.
 * With `choices`, the answer is chosen among them (and every answer must be one of them); without, it is generated
 * and scored with SQuAD-style normalised EM/F1. A missing id becomes the line number.
 */
export function loadJsonlQa(file: string, name = basename(file).replace(/\.jsonl?$/, '')): Dataset {
  const examples: QaExample[] = [];
  const seen = new Set<string>();
  let withChoices = 0;
  for (const { line, value } of readJsonLines(file)) {
    const rec = value as Record<string, unknown>;
    const f = (n: string) => field(file, rec, n, line);
    const id = f('id').present ? f('id').id() : String(line);
    if (seen.has(id)) throw new DatasetError(file, `duplicate id "${id}"`, { line, field: 'id' });
    seen.add(id);
    const question = f('question').string();
    let answers: string[];
    if (f('answers').present) answers = f('answers').stringArray({ nonEmpty: true });
    else if (f('answer').present) answers = [f('answer').string()];
    else throw new DatasetError(file, 'expected "answers" (array of strings) or "answer" (string)', { line, field: 'answers' });
    const ex: QaExample = { id, question, answers };
    if (f('choices').present) {
      ex.choices = f('choices').stringArray({ nonEmpty: true });
      const missing = answers.find((a) => !ex.choices!.includes(a));
      if (missing !== undefined) throw new DatasetError(file, `answer "${missing}" is not one of the choices`, { line, field: 'choices' });
      withChoices++;
    }
    if (f('gold_doc_ids').present) ex.goldDocIds = f('gold_doc_ids').stringArray();
    examples.push(ex);
  }
  if (examples.length === 0) throw new DatasetError(file, 'no questions found');
  return { name, examples, documents: [], primaryMetric: withChoices === examples.length ? 'accuracy' : 'em', split: 'all' };
}

/**
 * A JSON Lines corpus: `{"id": string|number, "title"?: string, "text"|"contents"|"abstract": string}` per line
 * (the PubMed-style layout the corpus package ingests).
 */
export function loadJsonlCorpus(file: string): CorpusDocument[] {
  const docs: CorpusDocument[] = [];
  const seen = new Set<string>();
  for (const { line, value } of readJsonLines(file)) {
    const rec = value as Record<string, unknown>;
    const id = field(file, rec, 'id', line).id();
    if (seen.has(id)) throw new DatasetError(file, `duplicate id "${id}"`, { line, field: 'id' });
    seen.add(id);
    const textField = ['text', 'contents', 'abstract'].find((n) => field(file, rec, n, line).present);
    if (!textField) throw new DatasetError(file, 'expected a "text", "contents" or "abstract" string', { line, field: 'text' });
    const text = field(file, rec, textField, line).string();
    const title = field(file, rec, 'title', line).optionalString();
    docs.push(title ? { id, title, text } : { id, text });
  }
  return docs;
}
