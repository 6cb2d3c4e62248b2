import type { Document, Metadata } from './store.js';

export type InputFormat = 'jsonl' | 'tsv' | 'pubmedqa' | 'popqa';
export const INPUT_FORMATS: readonly InputFormat[] = ['jsonl', 'tsv', 'pubmedqa', 'popqa'];

/** Which fields of a JSON Lines record or TSV column hold the id, text and title. */
export interface FieldNames {
  id?: string;
  text?: string;
  title?: string;
}

/** A record that cannot become a document: the message says which field and what was expected. */
export class BadRecordError extends Error {
  override name = 'BadRecordError';
}

// PubMed-style JSON Lines name the body "contents" (Pyserini), "abstract" or "text".
const TEXT_FIELDS = ['contents', 'abstract', 'text'];

export function formatFromPath(path: string): InputFormat {
  if (/\.tsv$/i.test(path)) return 'tsv';
  if (/ori_pqal\.json$/i.test(path)) return 'pubmedqa';
  if (/popqa\.json$/i.test(path)) return 'popqa';
  return 'jsonl';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new BadRecordError(`broken JSON (${(e as Error).message})`);
  }
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new BadRecordError(`expected ${what} to be a JSON object, got ${kind(v)}`);
  return v as Record<string, unknown>;
}

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

function idOf(v: unknown, field: string): string {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'string' && v.trim() !== '') return v;
  throw new BadRecordError(`field "${field}": expected a non-empty string or number id, got ${v === undefined ? 'nothing' : kind(v)}`);
}

function textOf(v: unknown, field: string): string {
  if (typeof v === 'string' && v.trim() !== '') return v;
  throw new BadRecordError(`field "${field}": expected non-empty text, got ${v === undefined ? 'nothing' : kind(v)}`);
}

/** One JSON Lines record -> one document; other scalar fields become metadata. */
export function fromJsonLine(line: string, fields: FieldNames): Document {
  const o = asObject(parseJson(line), 'the line');
  const idField = fields.id ?? 'id';
  const textField = fields.text ?? TEXT_FIELDS.find((f) => f in o);
  if (!textField)
    throw new BadRecordError(`no text field: expected one of ${TEXT_FIELDS.map((f) => `"${f}"`).join(', ')} (or set --text-field)`);
  const titleField = fields.title ?? 'title';
  const title = o[titleField];
  if (title !== undefined && title !== null && typeof title !== 'string')
    throw new BadRecordError(`field "${titleField}": expected a string title, got ${kind(title)}`);
  const metadata: Metadata = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === idField || k === textField || k === titleField) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') metadata[k] = v;
  }
  return { id: idOf(o[idField], idField), text: textOf(o[textField], textField), title: title ?? undefined, metadata };
}

/** Column positions from a DPR-style header line ("id<TAB>text<TAB>title"). */
export function tsvColumns(header: string, fields: FieldNames): { id: number; text: number; title: number; width: number } {
  const names = header.split('\t').map((s) => s.trim());
  const find = (name: string, required: boolean): number => {
    const i = names.indexOf(name);
    if (i === -1 && required) throw new BadRecordError(`header has no column "${name}" (columns: ${names.join(', ')})`);
    return i;
  };
  return {
    id: find(fields.id ?? 'id', true),
    text: find(fields.text ?? 'text', true),
    title: find(fields.title ?? 'title', false),
    width: names.length,
  };
}

// DPR writes its TSV with Python's csv module: fields with quotes are quoted, inner quotes doubled.
function unquote(field: string): string {
  return field.length >= 2 && field.startsWith('"') && field.endsWith('"') ? field.slice(1, -1).replaceAll('""', '"') : field;
}

export function fromTsvLine(line: string, cols: ReturnType<typeof tsvColumns>): Document {
  const parts = line.split('\t');
  if (parts.length !== cols.width) throw new BadRecordError(`expected ${cols.width} tab-separated columns, got ${parts.length}`);
  const title = cols.title >= 0 ? unquote(parts[cols.title]) : undefined;
  return { id: idOf(unquote(parts[cols.id]), 'id'), text: textOf(unquote(parts[cols.text]), 'text'), title };
}

/**
 * One PubMedQA PQA-L entry ("PMID": {QUESTION, CONTEXTS, LABELS, MESHES, YEAR, ...}) -> the abstract
 * as one document: its context sections joined. The question and answer are not part of the document.
 */
export function fromPubmedqaMember(member: string): Document {
  const entry = asObject(parseJson(member), 'the entry');
  const [pmid] = Object.keys(entry);
  const o = asObject(entry[pmid], `entry "${pmid}"`);
  const contexts = o.CONTEXTS;
  if (!Array.isArray(contexts) || contexts.length === 0 || contexts.some((c) => typeof c !== 'string')) {
    throw new BadRecordError(`entry "${pmid}" field "CONTEXTS": expected a non-empty array of strings, got ${kind(contexts)}`);
  }
  const metadata: Metadata = { source: 'pubmedqa' };
  if (typeof o.YEAR === 'string') metadata.year = o.YEAR;
  return { id: idOf(pmid, 'PMID'), text: textOf(contexts.join('\n'), 'CONTEXTS'), metadata };
}

/** One PopQA question -> its Wikipedia paragraphs, one document each, keyed by page title. */
export function fromPopqaElement(element: string): Document[] {
  const o = asObject(parseJson(element), 'the question');
  const paragraphs = o.paragraphs;
  if (!Array.isArray(paragraphs)) throw new BadRecordError(`field "paragraphs": expected an array, got ${kind(paragraphs)}`);
  return paragraphs.map((p, i) => {
    const para = asObject(p, `paragraphs[${i}]`);
    const title = textOf(para.title, `paragraphs[${i}].title`);
    return { id: title, title, text: textOf(para.text, `paragraphs[${i}].text`), metadata: { source: 'popqa' } };
  });
}

/** Questions of a benchmark file, for `corpus filter` and benchmarks: JSON Lines with id + question/query/text. */
export interface Question {
  id: string;
  text: string;
}

export function questionFromJsonLine(line: string): Question {
  const o = asObject(parseJson(line), 'the line');
  const field = ['question', 'query', 'text'].find((f) => typeof o[f] === 'string');
  if (!field) throw new BadRecordError('expected a "question", "query" or "text" string field');
  return { id: o.id === undefined ? '' : idOf(o.id, 'id'), text: textOf(o[field], field) };
}
