/**
 * Validation of untrusted generator output. Each check returns what is usable plus a reason when something was
 * rejected, so a failed passage says why.
 */
import { extractJson, type JsonValue } from './json-repair.js';
import type { QaPair } from './record.js';
import { acronymsIn, isGrounded, normalizeText, numbersIn, STOPWORDS, tokenOverlap, tokens, wordCount } from './text.js';

export interface QaCheckOptions {
  /** Longest accepted answer, in words: answers are meant to be short spans. */
  maxAnswerWords?: number;
  /** Token-overlap share above which a non-verbatim answer still counts as grounded. */
  minOverlap?: number;
}

export interface QaCheckResult {
  /** Pairs that passed every check. */
  valid: QaPair[];
  /** Well-formed pairs found (with a question and an answer), before the length and grounding checks. */
  proposed: number;
  grounded: number;
  /** Why pairs or the whole output were rejected; empty when everything passed. */
  reasons: string[];
}

function isObject(v: JsonValue): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Case-insensitive field lookup across the key spellings models use. */
function field(o: { [key: string]: JsonValue }, names: string[]): JsonValue | undefined {
  for (const [k, v] of Object.entries(o)) {
    if (names.includes(k.toLowerCase().replace(/[\s-]/g, '_'))) return v;
  }
  return undefined;
}

function asText(v: JsonValue | undefined): string {
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.join(', ').trim();
  return '';
}

/** The list of pair-like objects in a parsed value: a bare array, {qa: [...]}-style wrappers, or one pair. */
function qaItems(value: JsonValue): JsonValue[] | null {
  if (Array.isArray(value)) return value;
  if (!isObject(value)) return null;
  if (field(value, ['question', 'q']) !== undefined) return [value];
  const list = Object.values(value).find((v) => Array.isArray(v) && v.some(isObject));
  return (list as JsonValue[] | undefined) ?? null;
}

function looksLikeQa(value: JsonValue): boolean {
  const items = qaItems(value);
  return items?.some((i) => isObject(i) && field(i, ['question', 'q']) !== undefined) === true;
}

/**
 * Pairs written as text instead of JSON ("Q: ... / A: ...", "Question 1: ... / Answer: ..."): what small models
 * fall back to. Each question takes the first answer line after it.
 */
function qaFromLines(output: string): JsonValue[] {
  const pairs: JsonValue[] = [];
  let question: string | null = null;
  for (const line of output.split('\n')) {
    const q = /^\s*(?:\d+[.)]\s*)?(?:\*\*)?Q(?:uestion)?\s*\d*\s*(?:\*\*)?\s*[:.)-]\s*(?:\*\*)?\s*(.+)$/i.exec(line);
    const a = /^\s*(?:\*\*)?A(?:nswer)?\s*\d*\s*(?:\*\*)?\s*[:.)-]\s*(?:\*\*)?\s*(.+)$/i.exec(line);
    if (q) question = q[1].trim();
    else if (a && question !== null) {
      pairs.push({ question, answer: a[1].trim() });
      question = null;
    }
  }
  return pairs;
}

/** Parse a QA answer from model output and keep the pairs that are well-formed, short and grounded in `passage`. */
export function checkQaOutput(output: string, passage: string, options: QaCheckOptions = {}): QaCheckResult {
  const maxAnswerWords = options.maxAnswerWords ?? 15;
  const result: QaCheckResult = { valid: [], proposed: 0, grounded: 0, reasons: [] };
  const found = extractJson(output, { accept: looksLikeQa });
  const items = found !== null ? (qaItems(found.value) ?? []) : qaFromLines(output);
  if (items.length === 0) {
    result.reasons.push(output.trim() === '' ? 'empty output' : 'no JSON list of {question, answer} in the output');
    return result;
  }
  const seen = new Set<string>();
  for (const item of items) {
    if (!isObject(item)) continue;
    const question = asText(field(item, ['question', 'q']));
    const answer = asText(field(item, ['answer', 'a', 'short_answer']));
    const fullAnswer = asText(field(item, ['full_answer', 'fullanswer', 'long_answer']));
    if (question === '' || answer === '') {
      result.reasons.push(question === '' ? 'empty question' : 'answer missing');
      continue;
    }
    result.proposed++;
    const grounded = isGrounded(answer, passage, options.minOverlap);
    if (grounded) result.grounded++;
    const key = normalizeText(question);
    if (wordCount(question) < 3) result.reasons.push(`question too short: "${question}"`);
    else if (wordCount(answer) > maxAnswerWords) result.reasons.push(`answer longer than ${maxAnswerWords} words`);
    else if (!grounded) result.reasons.push(`answer not grounded in the passage: "${answer}"`);
    else if (tokens(answer).every((t) => STOPWORDS.has(t))) result.reasons.push(`answer has no content word: "${answer}"`);
    else if (normalizeText(answer) === key) result.reasons.push('answer repeats the question');
    else if (seen.has(key)) result.reasons.push('duplicate question');
    else {
      seen.add(key);
      result.valid.push(fullAnswer === '' ? { question, answer } : { question, answer, fullAnswer });
    }
  }
  if (result.proposed === 0 && result.reasons.length === 0) result.reasons.push('no question/answer pair in the JSON');
  return result;
}

export interface RewriteCheck {
  rewrite: string | null;
  reason?: string;
}

/** Strip the framing small models add around a rewrite: a lead-in line, code fences, wrapping quotes. */
export function cleanRewrite(output: string): string {
  let t = output.trim();
  t = t.replace(/^```[a-zA-Z]*\s*\n?|```$/g, '').trim();
  t = t.replace(/^(?:sure[,!.]?\s*)?(?:here(?:'s| is)[^\n:]*|rewritten(?: passage| text| version)?|rewrite)\s*:\s*/i, '').trim();
  t = t.replace(/^"""\s*|\s*"""$/g, '').trim();
  if (/^["\u201c].*["\u201d]$/s.test(t) && !/["\u201c\u201d]/.test(t.slice(1, -1))) t = t.slice(1, -1).trim();
  return t;
}

export interface RewriteCheckOptions {
  /**
   * One sentence (sentence pipeline): every number and acronym kept, none added, length within 60-160%. A small model
   * rewriting "42 subjects with ESRD" wrote "End Stage Sickle Cell Disease": a changed acronym is a changed fact.
   */
  strict?: boolean;
}

/**
 * A rewrite must say the same thing in other words: non-empty, of comparable length, not a copy, keeping the
 * passage's numbers (80% of them; all, and its acronyms too, when `strict`) and adding none of its own (an invented
 * number is an invented fact).
 */
export function checkRewrite(output: string, passage: string, options: RewriteCheckOptions = {}): RewriteCheck {
  const rewrite = cleanRewrite(output);
  if (rewrite === '') return { rewrite: null, reason: 'empty rewrite' };
  const [minRatio, maxRatio] = options.strict ? [0.6, 1.6] : [0.4, 2.5];
  const ratio = wordCount(rewrite) / Math.max(wordCount(passage), 1);
  if (ratio < minRatio) return { rewrite: null, reason: `rewrite too short (${Math.round(ratio * 100)}% of the passage)` };
  if (ratio > maxRatio) return { rewrite: null, reason: `rewrite too long (${Math.round(ratio * 100)}% of the passage)` };
  if (normalizeText(rewrite) === normalizeText(passage)) return { rewrite: null, reason: 'rewrite is a copy of the passage' };
  const kept = new Set(numbersIn(rewrite));
  const original = new Set(numbersIn(passage));
  const dropped = [...original].filter((n) => !kept.has(n));
  if (original.size > 0 && dropped.length / original.size > (options.strict ? 0 : 0.2)) {
    return { rewrite: null, reason: `rewrite drops numbers: ${dropped.slice(0, 5).join(', ')}` };
  }
  const invented = [...kept].filter((n) => !original.has(n));
  if (invented.length > 0) return { rewrite: null, reason: `rewrite adds numbers: ${invented.slice(0, 5).join(', ')}` };
  if (options.strict) {
    const before = new Set(acronymsIn(passage));
    const after = new Set(acronymsIn(rewrite));
    const lost = [...before].filter((a) => !after.has(a));
    if (lost.length > 0) return { rewrite: null, reason: `rewrite drops terms: ${lost.slice(0, 5).join(', ')}` };
    const added = [...after].filter((a) => !before.has(a));
    if (added.length > 0) return { rewrite: null, reason: `rewrite adds terms: ${added.slice(0, 5).join(', ')}` };
  }
  return { rewrite };
}

export interface QuestionCheck {
  question: string | null;
  reason?: string;
}

/** A question whose answer is a number asks for a quantity, a time or a value (else it asked about something else). */
const NUMBER_QUESTION =
  /\b(?:how|when|year|age|percentage|percent|proportion|share|rate|ratio|number|mean|median|average|level|value|score|dose|duration|size|count|total|range|index|coefficient|alpha|odds|risk|time|period)\b/i;

/** Words a question uses to ask, which the passage need not contain. */
const QUESTION_WORDS = new Set('many much percentage proportion share number amount kind type year name long often'.split(' '));

/**
 * A question written for a given answer span (the sentence pipeline). The answer is grounded by construction, so
 * this judges the question: one line ending in '?', 4-30 words, not giving the answer (or a number of it) away,
 * asking for a year when the answer is one (v4 let "What was the number of procedures...?" take "2007") and for a
 * quantity when it is a number, no number the passage lacks, and about the passage (at least 2 of its content words from the sentence, and at most a third of them from
 * outside the passage: small models drift into invented topics).
 */
export function checkQuestion(output: string, answer: string, sentence: string, passage: string): QuestionCheck {
  const line = output.trim().split('\n')[0] ?? '';
  const question = line.replace(/^(?:\*\*)?Q(?:uestion)?\s*\d*\s*(?:\*\*)?\s*[:.)-]\s*(?:\*\*)?\s*/i, '').trim();
  if (question === '') return { question: null, reason: 'empty question' };
  if (!question.endsWith('?')) return { question: null, reason: `not a question: "${question}"` };
  const words = wordCount(question);
  if (words < 4 || words > 30) return { question: null, reason: `question of ${words} words` };
  const asked = numbersIn(question);
  if (` ${normalizeText(question)} `.includes(` ${normalizeText(answer)} `) || numbersIn(answer).some((n) => asked.includes(n)))
    return { question: null, reason: `question contains its answer: "${question}"` };
  if (/^(?:1[5-9]|20)\d\d$/.test(answer.trim()) && !/\b(?:when|year|years|date|period)\b/i.test(question))
    return { question: null, reason: `question does not ask for a year: "${question}"` };
  if (/^[\d.,%]+\s*\p{L}*$/u.test(answer.trim()) && !NUMBER_QUESTION.test(question))
    return { question: null, reason: `question does not ask for a number: "${question}"` };
  const passageNumbers = new Set(numbersIn(passage));
  const invented = asked.filter((n) => !passageNumbers.has(n));
  if (invented.length > 0) return { question: null, reason: `question adds numbers: ${invented.join(', ')}` };
  const content = tokens(question).filter((t) => !STOPWORDS.has(t) && !QUESTION_WORDS.has(t));
  const inSentence = new Set(tokens(sentence));
  const inPassage = new Set(tokens(passage));
  const fromSentence = content.filter((t) => inSentence.has(t)).length;
  const outside = content.filter((t) => !inPassage.has(t)).length;
  if (fromSentence < 2 || outside > content.length / 3) return { question: null, reason: `question off the passage: "${question}"` };
  return { question };
}

export interface MetaCheck {
  description: string;
  tags: string[];
  reason?: string;
}

/**
 * Description (one short text) and tags (short, distinct strings) from model output. Both must be about this
 * passage: a tag shares a word with it, a description 40% of its content words (small models otherwise
 * fill the fields with invented topics).
 */
export function checkMetaOutput(output: string, passage: string): MetaCheck {
  const found = extractJson(output, {
    accept: (v) => isObject(v) && (field(v, ['description', 'summary']) !== undefined || field(v, ['tags']) !== undefined),
  });
  if (found === null || !isObject(found.value)) return { description: '', tags: [], reason: 'no JSON object with description and tags' };
  let description = asText(field(found.value, ['description', 'summary']));
  if (wordCount(description) > 60 || tokenOverlap(description, passage) < 0.4) description = '';
  const rawTags = field(found.value, ['tags', 'keywords']);
  const list = typeof rawTags === 'string' ? rawTags.split(',') : Array.isArray(rawTags) ? rawTags.map(asText) : [];
  const tags: string[] = [];
  for (const t of list.map((x) => x.trim())) {
    if (t === '' || wordCount(t) > 6 || tags.some((u) => u.toLowerCase() === t.toLowerCase())) continue;
    if (tokenOverlap(t, passage) === 0) continue;
    tags.push(t);
    if (tags.length === 10) break;
  }
  const reason = description === '' || tags.length === 0 ? `missing ${description === '' ? 'description' : 'tags'}` : undefined;
  return reason ? { description, tags, reason } : { description, tags };
}
