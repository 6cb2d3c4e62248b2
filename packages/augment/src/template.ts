/**
 * Model-free augmentation: cloze questions from the passage's own sentences, a rewrite by sentence reordering and
 * a small table of safe word swaps, tags from capitalised terms and frequent words. Deterministic and fast: the
 * baseline a model-made augmentation has to beat.
 */
import type { Augmenter, AugmentOptions, Passage } from './generator.js';
import type { AugmentedRecord, QaPair } from './record.js';
import { isGrounded, normalizeText, STOPWORDS, splitSentences, wordCount } from './text.js';

export const TEMPLATE_VERSION = 'rg-template-v1';

export interface TemplateAugmenterOptions {
  qaCount?: number;
  /**
   * Phrasings of the passage in all (default 1: the passage and one rewrite, as always). With P > 1 the record also
   * carries P - 1 `rewrites` (other sentence orders, subject pronouns replaced by the title), and the QA pairs ask
   * each fact in several forms: a fact seen in one wording is memorised but not extractable (Physics of Language
   * Models 3.1), so the same fact is stated and asked several ways.
   */
  phrasings?: number;
}

/** Synonym swaps that keep meaning in general and scientific prose; applied in one pass, so pairs swap both ways. */
const SWAPS: Record<string, string> = {
  'in order to': 'so as to',
  however: 'nevertheless',
  nevertheless: 'however',
  showed: 'demonstrated',
  demonstrated: 'showed',
  shows: 'demonstrates',
  demonstrates: 'shows',
  investigated: 'examined',
  examined: 'investigated',
  evaluated: 'assessed',
  assessed: 'evaluated',
  therefore: 'thus',
  thus: 'therefore',
  whereas: 'while',
  'in addition': 'additionally',
  frequently: 'often',
  often: 'frequently',
  approximately: 'roughly',
  because: 'since',
  'found that': 'observed that',
  aim: 'goal',
  many: 'numerous',
};
const SWAP_RE = new RegExp(
  `\\b(${Object.keys(SWAPS)
    .sort((a, b) => b.length - a.length)
    .join('|')})\\b`,
  'gi',
);

function swapWords(sentence: string): string {
  return sentence.replace(SWAP_RE, (m) => {
    const to = SWAPS[m.toLowerCase()];
    return m[0] === m[0].toUpperCase() ? to[0].toUpperCase() + to.slice(1) : to;
  });
}

/**
 * Numbers standing as words (not inside 2-methoxy, CD4 or 1.5-cm), with the unit word after them when there is one
 * ("12 patients", "40%"). Spans are cut from the sentence itself so the blank replaces exactly them.
 */
function numberSpans(sentence: string): string[] {
  const words = [...sentence.matchAll(/\S+/g)].map((m) => {
    const core = /^[("'[]*(.*?)[)"'\],;:.]*$/.exec(m[0])?.[1] ?? m[0];
    const start = m.index + m[0].indexOf(core);
    return { core, start, end: start + core.length, raw: m[0] };
  });
  const spans: string[] = [];
  words.forEach((w, i) => {
    if (!/^\d+(?:[.,]\d+)*%?$/.test(w.core)) return;
    const next = words[i + 1];
    // The unit must follow directly: no punctuation closing the number's word, none opening the next.
    const unit =
      next !== undefined &&
      w.raw.endsWith(w.core) &&
      next.raw.startsWith(next.core) &&
      /^\p{Ll}{1,12}$/u.test(next.core) &&
      !STOPWORDS.has(next.core)
        ? next
        : undefined;
    spans.push(sentence.slice(w.start, unit ? unit.end : w.end));
  });
  return spans;
}

/** Names: runs of capitalised words or acronyms; a lone capitalised word at the sentence start is just a sentence start. */
function nameSpans(sentence: string): string[] {
  const spans: string[] = [];
  for (const m of sentence.matchAll(/\b(?:[\p{Lu}][\p{L}\p{N}-]*)(?:\s+(?:of\s+|the\s+)?[\p{Lu}][\p{L}\p{N}-]*)*/gu)) {
    const name = m[0].replace(/^(?:The|A|An|This|These|In|On|At|For)\s+/, '');
    const isStart = name === m[0] && (m.index === 0 || /^\W*$/.test(sentence.slice(0, m.index)));
    const multi = /\s/.test(name) || /\p{Lu}{2,}|\p{N}/u.test(name) || /\p{Lu}/u.test(name.slice(1));
    if (!STOPWORDS.has(name.toLowerCase()) && (multi || !isStart)) spans.push(name);
  }
  return spans;
}

/** A span that is a whole word in the sentence, not part of a hyphenated or alphanumeric one (2-methoxy, Statview5). */
function standsAlone(sentence: string, span: string): boolean {
  const at = sentence.indexOf(span);
  const before = sentence[at - 1] ?? ' ';
  const after = sentence.slice(at + span.length, at + span.length + 2);
  return at >= 0 && !/[\p{L}\p{N}-]/u.test(before) && !/^(?:[\p{L}\p{N}-]|[.,]\p{N})/u.test(after);
}

/** Candidate answer spans of a sentence, best first: numbers, names, then its longest content word. */
function answerSpans(sentence: string): string[] {
  const words = sentence.match(/[\p{L}][\p{L}-]{4,}/gu) ?? [];
  const longest = words.filter((w) => !STOPWORDS.has(w.toLowerCase())).sort((a, b) => b.length - a.length)[0];
  return [...numberSpans(sentence), ...nameSpans(sentence), ...(longest ? [longest] : [])].filter((span) => standsAlone(sentence, span));
}

function sentenceScore(sentence: string): number {
  const n = wordCount(sentence);
  if (n < 5 || n > 60) return 0;
  return 1 + (/\d/.test(sentence) ? 2 : 0) + (/\s\p{Lu}/u.test(sentence) ? 1 : 0);
}

/** Capitalised terms (names, acronyms) first, by frequency, then content words that occur at least twice. */
export function templateTags(passage: string, max = 8): string[] {
  const counts = new Map<string, { text: string; count: number; first: number }>();
  const add = (text: string, at: number, weight: number) => {
    const key = text.toLowerCase();
    const entry = counts.get(key) ?? { text, count: 0, first: at };
    entry.count += weight;
    counts.set(key, entry);
  };
  let offset = 0;
  for (const sentence of splitSentences(passage)) {
    for (const name of nameSpans(sentence)) add(name, offset + sentence.indexOf(name), 2);
    offset += sentence.length;
  }
  const words = passage.match(/[\p{L}][\p{L}-]{4,}/gu) ?? [];
  const freq = new Map<string, number>();
  for (const w of words.map((x) => x.toLowerCase()).filter((x) => !STOPWORDS.has(x))) freq.set(w, (freq.get(w) ?? 0) + 1);
  for (const [w, c] of freq) {
    if (c >= 2 && !counts.has(w)) counts.set(w, { text: w, count: c, first: passage.toLowerCase().indexOf(w) });
  }
  return [...counts.values()]
    .sort((a, b) => b.count - a.count || a.first - b.first)
    .slice(0, max)
    .map((e) => e.text);
}

/** Reorder (swap neighbours after the first sentence, which sets the topic) and swap safe words. */
export function templateRewrite(passage: string): string {
  const sentences = splitSentences(passage);
  const order = [...sentences];
  for (let i = 1; i + 1 < order.length; i += 2) [order[i], order[i + 1]] = [order[i + 1], order[i]];
  const rewrite = order.map(swapWords).join(' ');
  // A passage with nothing to swap or reorder still needs different wording from the original.
  return normalizeText(rewrite) === normalizeText(passage) ? `The text states the following. ${rewrite}` : rewrite;
}

/**
 * Answer spans to ask about, best first: the most informative sentences (numbers, names) in turn, each giving its
 * next unused span per round, so the questions cover the passage rather than one sentence.
 */
export function answerCandidates(passage: string, rounds = 3): Array<{ sentence: string; span: string }> {
  const sentences = splitSentences(passage)
    .map((s, i) => ({ s, i, score: sentenceScore(s) }))
    .filter((x) => x.score > 0)
    .sort((a, b) => b.score - a.score || a.i - b.i);
  const out: Array<{ sentence: string; span: string }> = [];
  const used = new Set<string>();
  for (let round = 0; round < rounds; round++) {
    for (const { s } of sentences) {
      const span = answerSpans(s).find((a) => wordCount(a) <= 8 && !used.has(a.toLowerCase()));
      if (span === undefined) continue;
      used.add(span.toLowerCase());
      out.push({ sentence: s, span });
    }
  }
  return out;
}

/** Fill-in-the-blank pairs from the most informative sentences, answers taken verbatim from them. */
export function templateQa(passage: string, count: number): QaPair[] {
  return answerCandidates(passage)
    .slice(0, count)
    .map(({ sentence, span }) => ({
      question: `Fill in the blank: ${sentence.replace(span, '_____')}`,
      answer: span,
      fullAnswer: sentence,
    }));
}

/**
 * Other wordings of the passage, beyond templateRewrite's: other sentence orders (the sentences after the first
 * rotated, then the whole passage reversed), each also with word swaps; with a title, a leading subject pronoun (He,
 * She, It, They) is replaced by the title, so a fact is also stated next to the name a question will use. A short
 * passage has few orders: then the same orders come again under a framing phrase. Only wordings that differ from the
 * passage, its rewrite and each other are kept.
 */
export function templateRewrites(passage: string, count: number, title?: string): string[] {
  const sentences = splitSentences(passage);
  const named = title ? sentences.map((x) => nameSubject(x, title)) : sentences;
  const [first, ...rest] = named;
  const orders: string[][] = [];
  for (let shift = 1; shift < rest.length; shift++) orders.push([first, ...rest.slice(shift), ...rest.slice(0, shift)]);
  orders.push([...named].reverse(), named);
  const candidates = orders.flatMap((order) => [order.join(' '), order.map(swapWords).join(' ')]);
  const framed = FRAMINGS.flatMap((frame) => candidates.map((c) => `${frame} ${c}`));
  const seen = new Set([normalizeText(passage), normalizeText(templateRewrite(passage))]);
  const out: string[] = [];
  for (const text of [...candidates, ...framed]) {
    if (out.length === count) break;
    const key = normalizeText(text);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(text);
  }
  return out;
}

/** Lead-ins for a passage too short to reorder into enough wordings. */
const FRAMINGS = ['In other words:', 'To restate the facts:', 'Put differently,'];

/** "She won ..." -> "Eleanor Davis won ..." for the title's subject; other sentences as they are. */
function nameSubject(sentence: string, title: string): string {
  // A title's parenthesised qualifier ("Paris (actor)") is not part of the name a sentence would use.
  const name = title.replace(/\s*\([^)]*\)\s*$/, '').trim();
  if (name === '') return sentence;
  return sentence.replace(/^(He|She|It|They)\b/, name);
}

/**
 * QA pairs that ask each fact in `forms` ways (at most 3): the cloze, the cloze prefixed with the title ("About X:
 * ..."), and a question that names what is missing ("In the sentence '... _____ ...', what fills the blank?"); the
 * facts are answerCandidates' in order, so `count` facts give up to count × forms pairs.
 */
export function phrasedQa(passage: string, count: number, forms: number, title?: string): QaPair[] {
  const out: QaPair[] = [];
  for (const { sentence, span } of answerCandidates(passage).slice(0, count)) {
    const blank = sentence.replace(span, '_____');
    const variants = [
      `Fill in the blank: ${blank}`,
      title ? `About ${title}, fill in the blank: ${nameSubject(blank, title)}` : `Complete the statement: ${blank}`,
      `In the statement "${blank}", what fills the blank?`,
    ];
    for (const question of variants.slice(0, Math.min(forms, variants.length))) out.push({ question, answer: span, fullAnswer: sentence });
  }
  return out;
}

export class TemplateAugmenter implements Augmenter {
  readonly generator = 'template';
  readonly promptVersion: string;
  private readonly phrasings: number;

  constructor(private readonly options: TemplateAugmenterOptions = {}) {
    this.phrasings = options.phrasings ?? 1;
    if (!Number.isInteger(this.phrasings) || this.phrasings < 1) {
      throw new RangeError(`phrasings: expected a positive integer, got ${options.phrasings}`);
    }
    // More phrasings are other training data: a resumed augment run must not mix them with one-phrasing records.
    this.promptVersion = this.phrasings === 1 ? TEMPLATE_VERSION : `${TEMPLATE_VERSION}+phrasings${this.phrasings}`;
  }

  /** The seed is not used: the template is deterministic. */
  async augment(passage: Passage, _options?: AugmentOptions): Promise<AugmentedRecord> {
    const qaCount = this.options.qaCount ?? 3;
    const qa = this.phrasings === 1 ? templateQa(passage.text, qaCount) : phrasedQa(passage.text, qaCount, this.phrasings, passage.title);
    const rewrite = templateRewrite(passage.text);
    const rewrites = this.phrasings === 1 ? [] : templateRewrites(passage.text, this.phrasings - 1, passage.title);
    const first = splitSentences(passage.text)[0] ?? '';
    const words = first.split(/\s+/);
    const description = words.length > 30 ? `${words.slice(0, 30).join(' ')} ...` : first;
    const record: AugmentedRecord = {
      passageId: passage.id,
      ...(passage.title !== undefined ? { title: passage.title } : {}),
      passage: passage.text,
      rewrite,
      ...(rewrites.length > 0 ? { rewrites } : {}),
      qa,
      tags: templateTags(passage.text),
      description,
      generator: this.generator,
      promptVersion: this.promptVersion,
      status: qa.length > 0 ? 'ok' : 'failed',
      diagnostics: { calls: 0, qaProposed: qa.length, qaGrounded: qa.filter((p) => isGrounded(p.answer, passage.text)).length },
    };
    if (qa.length === 0) record.failureReason = 'qa: no sentence of 5-60 words to make a cloze question from';
    return record;
  }
}
