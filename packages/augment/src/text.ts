/** Text helpers shared by validation, grounding and the template augmenter. */

/** Lower case, unify quotes and dashes, drop punctuation, collapse spaces: the form answers are compared in. */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\u2018\u2019\u201a\u201b]/g, "'")
    .replace(/[\u201c\u201d\u201e\u201f]/g, '"')
    .replace(/[\u2010-\u2015\u2212]/g, '-')
    .replace(/[^\p{L}\p{N}%.,\-\s]/gu, ' ')
    .replace(/(?<!\d)[.,]|[.,](?!\d)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Word tokens of the normalised text (numbers keep their decimal point). */
export function tokens(text: string): string[] {
  const norm = normalizeText(text);
  return norm === '' ? [] : norm.split(' ');
}

export const STOPWORDS = new Set(
  (
    'a an the and or but nor of in on at to for from by with without as is are was were be been being this that these those ' +
    'it its their there here which who whom whose what when where why how than then so such not no yes do does did done ' +
    'has have had having can could may might must shall should will would into onto over under between among about after ' +
    'before during within also both each either more most less least very only other same some any all we our they them he ' +
    'she his her you your i me my us one two via per vs while whether if because however although though thus therefore'
  ).split(' '),
);

/** Abbreviations whose full stop does not end a sentence. */
const ABBREVIATIONS = /(?:\b(?:e\.g|i\.e|et al|vs|cf|fig|figs|no|dr|mr|mrs|ms|prof|approx|ca|st|jr|sr|inc|ltd|resp)\.|\b[A-Z]\.)$/i;

/** Split into sentences on . ! ? followed by space and an upper-case letter, digit or quote; skips abbreviations. */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  const re = /[.!?]+["')\]]?\s+(?=["'([]?[\p{Lu}\p{N}])/gu;
  let start = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const end = m.index + m[0].trimEnd().length;
    const candidate = text.slice(start, end);
    if (ABBREVIATIONS.test(candidate)) continue;
    out.push(candidate.trim());
    start = m.index + m[0].length;
  }
  const rest = text.slice(start).trim();
  if (rest !== '') out.push(rest);
  return out.filter((s) => s !== '');
}

/** Numbers as written (12, 3.5, 40%, 1,200): a rewrite must keep every one of them. */
export function numbersIn(text: string): string[] {
  return [...text.matchAll(/\d+(?:[.,]\d+)*%?/g)].map((m) => m[0]);
}

/** Acronyms and coded names as written (ESRD, K/DOQI, CD4, IL-6): a one-sentence rewrite must keep every one of them. */
export function acronymsIn(text: string): string[] {
  return [...text.matchAll(/(?<![\p{L}\p{N}])[\p{L}\p{N}/-]*\p{Lu}[\p{L}\p{N}/-]*\p{Lu}[\p{L}\p{N}/-]*/gu)].map((m) =>
    m[0].replace(/[-/]+$/, ''),
  );
}

/** Share of the answer's content tokens that occur in the passage (all tokens when the answer has no content token). */
export function tokenOverlap(answer: string, passage: string): number {
  const passageTokens = new Set(tokens(passage));
  const all = tokens(answer);
  const content = all.filter((t) => !STOPWORDS.has(t));
  const counted = content.length > 0 ? content : all;
  if (counted.length === 0) return 0;
  return counted.filter((t) => passageTokens.has(t)).length / counted.length;
}

/**
 * Is the answer supported by the passage text? Yes when its normalised form is a substring of the normalised passage
 * (on word boundaries), or when at least `minOverlap` of its content tokens occur in the passage.
 */
export function isGrounded(answer: string, passage: string, minOverlap = 0.8): boolean {
  const a = normalizeText(answer);
  if (a === '') return false;
  if (` ${normalizeText(passage)} `.includes(` ${a} `)) return true;
  return tokenOverlap(answer, passage) >= minOverlap;
}

export function wordCount(text: string): number {
  const t = text.trim();
  return t === '' ? 0 : t.split(/\s+/).length;
}
