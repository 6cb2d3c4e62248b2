import { BadRecordError, type InputFormat, type Question, questionFromJsonLine } from './formats.js';
import { readJsonMembers, readLines } from './read.js';

/** A question that could not be read, with its line; callers decide whether to skip or stop. */
export interface QuestionOrError {
  line: number;
  question?: Question;
  error?: string;
}

/**
 * Questions of a task file, streamed: JSON Lines ({id, question|query|text}), or the questions of the
 * PubMedQA (id = PMID) and PopQA (id = its "id") files. A JSON Lines question without an id gets its line number.
 */
export async function* readQuestions(path: string, format: InputFormat): AsyncGenerator<QuestionOrError> {
  if (format === 'tsv') throw new BadRecordError('questions come as JSON Lines, PubMedQA or PopQA files, not TSV');
  const records = format === 'jsonl' ? readLines(path) : readJsonMembers(path, format === 'pubmedqa' ? 'object' : 'array');
  for await (const rec of records) {
    if (rec.text.trim() === '') continue;
    try {
      yield { line: rec.line, question: toQuestion(rec.text, format, rec.line) };
    } catch (e) {
      if (!(e instanceof BadRecordError)) throw e;
      yield { line: rec.line, error: e.message };
    }
  }
}

function toQuestion(text: string, format: InputFormat, line: number): Question {
  if (format === 'jsonl') {
    const q = questionFromJsonLine(text);
    return q.id === '' ? { ...q, id: String(line) } : q;
  }
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new BadRecordError(`broken JSON (${(e as Error).message})`);
  }
  if (format === 'pubmedqa') {
    const [pmid] = Object.keys(o);
    const q = (o[pmid] as { QUESTION?: unknown } | null)?.QUESTION;
    if (typeof q !== 'string' || q.trim() === '') throw new BadRecordError(`entry "${pmid}" field "QUESTION": expected a non-empty string`);
    return { id: pmid, text: q };
  }
  if (typeof o.question !== 'string' || o.question.trim() === '') throw new BadRecordError('field "question": expected a non-empty string');
  return { id: String(o.id ?? line), text: o.question };
}
