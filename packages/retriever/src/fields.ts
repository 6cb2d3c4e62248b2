/**
 * The text fields a lexical backend indexes per document, and how much each counts. `tags` and `description` are
 * retrieval-only (an augmenter's topic tags and summary, as the method's release indexes them to cut retrieval
 * noise); they never become part of the passage a prompt shows.
 */
export const FIELD_NAMES = ['text', 'title', 'tags', 'description'] as const;
export type FieldName = (typeof FIELD_NAMES)[number];
export type FieldWeights = Record<FieldName, number>;

/**
 * title and text at 1 are the ranking every index had before tags existed; a document without tags or description
 * has nothing in those fields, so its score does not depend on their weights. Tags and description at 0.5 count
 * half a passage word: with the template augmenter's tags (drawn from the passage itself) no weighting from 0.25 to
 * 1 moved recall@1/3/10 by more than 3 of 500 questions on PubMedQA or PopQA dev (`rg bench retrieve --tags`), so
 * the middle of that range, which keeps the passage's own words ahead of their repetition in the tags.
 */
export const DEFAULT_FIELD_WEIGHTS: Readonly<FieldWeights> = Object.freeze({ text: 1, title: 1, tags: 0.5, description: 0.5 });

/** `weights` completed with the defaults; a RangeError naming the field for a weight that is not a finite number >= 0. */
export function resolveFieldWeights(weights: Partial<FieldWeights> | undefined): FieldWeights {
  const out: FieldWeights = { ...DEFAULT_FIELD_WEIGHTS };
  for (const [name, value] of Object.entries(weights ?? {})) {
    if (!(FIELD_NAMES as readonly string[]).includes(name))
      throw new RangeError(`field weight "${name}": unknown field (expected ${FIELD_NAMES.join(', ')})`);
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      throw new RangeError(`field weight "${name}": expected a finite number >= 0, got ${String(value)}`);
    out[name as FieldName] = value;
  }
  if (out.text === 0 && out.title === 0 && out.tags === 0 && out.description === 0)
    throw new RangeError('field weights: every weight is 0; expected at least one field with a weight > 0');
  return out;
}

/**
 * `text=1,title=1,tags=0.5,description=0.5` (any subset; the rest keep their defaults) -> weights. Errors name the
 * field and what was expected.
 */
export function parseFieldWeights(spec: string): FieldWeights {
  const weights: Partial<FieldWeights> = {};
  for (const part of spec.split(',').map((s) => s.trim())) {
    const m = /^([^=\s]+)\s*=\s*(\S+)$/.exec(part);
    if (!m) throw new RangeError(`field weights "${part}": expected FIELD=WEIGHT (fields ${FIELD_NAMES.join(', ')})`);
    const [, name, raw] = m;
    if (!(FIELD_NAMES as readonly string[]).includes(name))
      throw new RangeError(`field weight "${name}": unknown field (expected ${FIELD_NAMES.join(', ')})`);
    if (name in weights) throw new RangeError(`field weight "${name}": given twice`);
    const value = Number(raw);
    if (!/^(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i.test(raw) || !Number.isFinite(value))
      throw new RangeError(`field weight "${name}": expected a number >= 0, got "${raw}"`);
    weights[name as FieldName] = value;
  }
  return resolveFieldWeights(weights);
}

/** A document's tags as one field value: one tag per line, blanks dropped. */
export function tagsText(tags: readonly string[] | undefined): string {
  return (tags ?? [])
    .map((t) => t.trim())
    .filter((t) => t !== '')
    .join('\n');
}
