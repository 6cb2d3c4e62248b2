/**
 * The augmented record: one passage with the training data made from it. It is the lora-trainer's input, one JSON
 * object per line of an augment output file.
 */

export interface QaPair {
  question: string;
  /** Short answer, grounded in the passage for the extractive prompts used here. */
  answer: string;
  /** The answer as a full sentence, when the generator gives one (the method's `full_answer`). */
  fullAnswer?: string;
}

export type AugmentStatus = 'ok' | 'failed';

/** Counters that let a run report how often the generator's output was usable. */
export interface AugmentDiagnostics {
  /** Generator calls made for this passage (all tasks, retries included). */
  calls: number;
  /** Well-formed question/answer pairs the generator proposed (before the grounding check). */
  qaProposed: number;
  /** Of those, the ones whose answer is grounded in the passage. */
  qaGrounded: number;
}

export interface AugmentedRecord {
  passageId: string;
  title?: string;
  passage: string;
  /** Same facts, entities and numbers, different wording; null when no valid rewrite was produced. */
  rewrite: string | null;
  /** More wordings of the same facts, beyond `rewrite` (template generator with phrasings > 1); absent: none. */
  rewrites?: string[];
  qa: QaPair[];
  /** Topic and entity tags the retriever can index as an extra field. */
  tags: string[];
  /** One or two sentences saying what the passage is about. */
  description: string;
  /** Which generator made it: `template`, `openai:<model>`, `local:<model>`, or the augment model of imported data. */
  generator: string;
  /** Version of the prompts (or template rules) used; a change in wording is a new version. */
  promptVersion: string;
  /** `ok`: rewrite and at least one valid QA pair. `failed`: see failureReason. */
  status: AugmentStatus;
  failureReason?: string;
  diagnostics?: AugmentDiagnostics;
}

/** Bad data in an augmented record, with where it came from and which field. */
export class AugmentDataError extends Error {
  override name = 'AugmentDataError';
}

function fail(where: string, field: string, expected: string): never {
  throw new AugmentDataError(`${where}: field "${field}": expected ${expected}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Record<string, unknown>, field: string, where: string, nonEmpty = true): string {
  const v = o[field];
  if (typeof v !== 'string' || (nonEmpty && v.trim() === '')) fail(where, field, nonEmpty ? 'a non-empty string' : 'a string');
  return v;
}

/**
 * Check that `value` is an AugmentedRecord and return it typed. `where` names the source in errors,
 * e.g. "out.jsonl line 12".
 */
export function validateAugmentedRecord(value: unknown, where = 'record'): AugmentedRecord {
  if (!isObject(value)) fail(where, '(record)', 'a JSON object');
  const passageId = str(value, 'passageId', where);
  const passage = str(value, 'passage', where);
  if (value.title !== undefined && typeof value.title !== 'string') fail(where, 'title', 'a string when present');
  if (value.rewrite !== null && typeof value.rewrite !== 'string') fail(where, 'rewrite', 'a string or null');
  if (value.rewrites !== undefined && (!Array.isArray(value.rewrites) || value.rewrites.some((r) => typeof r !== 'string' || r === ''))) {
    fail(where, 'rewrites', 'an array of non-empty strings when present');
  }
  if (!Array.isArray(value.qa)) fail(where, 'qa', 'an array of {question, answer}');
  const qa = value.qa.map((item, i): QaPair => {
    if (!isObject(item)) fail(where, `qa[${i}]`, 'an object {question, answer}');
    const pair: QaPair = { question: str(item, 'question', `${where} qa[${i}]`), answer: str(item, 'answer', `${where} qa[${i}]`) };
    if (item.fullAnswer !== undefined) pair.fullAnswer = str(item, 'fullAnswer', `${where} qa[${i}]`, false);
    return pair;
  });
  if (!Array.isArray(value.tags) || value.tags.some((t) => typeof t !== 'string')) fail(where, 'tags', 'an array of strings');
  const description = str(value, 'description', where, false);
  const generator = str(value, 'generator', where);
  const promptVersion = str(value, 'promptVersion', where);
  if (value.status !== 'ok' && value.status !== 'failed') fail(where, 'status', '"ok" or "failed"');
  if (value.status === 'failed' && (typeof value.failureReason !== 'string' || value.failureReason === '')) {
    fail(where, 'failureReason', 'a non-empty string when status is "failed"');
  }
  if (value.status === 'ok' && (typeof value.rewrite !== 'string' || qa.length === 0)) {
    fail(where, 'status', '"failed" when rewrite is null or qa is empty');
  }
  const record: AugmentedRecord = {
    passageId,
    passage,
    rewrite: value.rewrite as string | null,
    qa,
    tags: value.tags as string[],
    description,
    generator,
    promptVersion,
    status: value.status,
  };
  if (value.title !== undefined) record.title = value.title as string;
  if (value.rewrites !== undefined) record.rewrites = value.rewrites as string[];
  if (value.failureReason !== undefined) record.failureReason = String(value.failureReason);
  if (value.diagnostics !== undefined) {
    const d = value.diagnostics;
    if (!isObject(d) || !['calls', 'qaProposed', 'qaGrounded'].every((k) => Number.isInteger(d[k]) && (d[k] as number) >= 0)) {
      fail(where, 'diagnostics', 'an object {calls, qaProposed, qaGrounded} of non-negative integers');
    }
    record.diagnostics = { calls: d.calls as number, qaProposed: d.qaProposed as number, qaGrounded: d.qaGrounded as number };
  }
  return record;
}
