import { DatasetError } from './errors.js';
import { field, readJson } from './read.js';
import { POPQA_SPLIT, seededSplit } from './split.js';
import type { CorpusDocument, Dataset, QaExample } from './types.js';

/**
 * PopQA with supporting Wikipedia paragraphs (a JSON array; `possible_answers` is a JSON-encoded string list).
 * Each distinct paragraph title becomes one document (id = the Wikipedia title, shared by every question that
 * cites it); a question's gold documents are its supporting paragraphs. Scored by "an accepted answer appears
 * in the output". `split`: 'dev' or 'test' (rg's fixed seeded halves, see POPQA_SPLIT) or 'all'; the corpus is
 * always every question's paragraphs.
 */
export function loadPopQa(file: string, split: 'dev' | 'test' | 'all' = 'all'): Dataset {
  const root = readJson(file);
  if (!Array.isArray(root)) throw new DatasetError(file, 'expected a JSON array of questions');
  const documents = new Map<string, CorpusDocument>();
  const examples: QaExample[] = [];
  root.forEach((raw, i) => {
    const at = `[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new DatasetError(file, 'expected an object', { field: at });
    const rec = raw as Record<string, unknown>;
    const f = (name: string) => field(file, rec, name, undefined, at);
    const id = f('id').id();
    const question = f('question').string();
    const answersRaw = f('possible_answers').string();
    let answers: unknown;
    try {
      answers = JSON.parse(answersRaw);
    } catch {
      throw new DatasetError(file, 'expected a JSON-encoded list of strings', { field: `${at}.possible_answers` });
    }
    if (!Array.isArray(answers) || answers.length === 0 || answers.some((a) => typeof a !== 'string')) {
      throw new DatasetError(file, 'expected a non-empty JSON-encoded list of strings', { field: `${at}.possible_answers` });
    }
    const paragraphs = rec.paragraphs;
    if (!Array.isArray(paragraphs)) throw new DatasetError(file, 'expected an array of {title, text}', { field: `${at}.paragraphs` });
    const gold: string[] = [];
    paragraphs.forEach((p, j) => {
      const pat = `${at}.paragraphs[${j}]`;
      if (p === null || typeof p !== 'object') throw new DatasetError(file, 'expected an object {title, text}', { field: pat });
      const title = field(file, p as Record<string, unknown>, 'title', undefined, pat).string();
      const text = field(file, p as Record<string, unknown>, 'text', undefined, pat).string();
      if (!documents.has(title)) documents.set(title, { id: title, title, text });
      if ((p as Record<string, unknown>).is_supporting !== false) gold.push(title);
    });
    examples.push({ id, question, answers: answers as string[], goldDocIds: gold });
  });
  const chosen = split === 'all' ? examples : seededSplit(examples, POPQA_SPLIT.dev, POPQA_SPLIT.seed)[split];
  return { name: 'popqa', examples: chosen, documents: [...documents.values()], primaryMetric: 'contains', split };
}
