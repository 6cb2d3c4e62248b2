/**
 * Evaluation metrics. Text answers are compared after SQuAD's normalisation (lower case, punctuation and the
 * articles a/an/the removed, whitespace collapsed), as in the official SQuAD v1.1 evaluation script; beyond
 * its ASCII punctuation set, Unicode punctuation (dashes, curly quotes) is removed too.
 */

const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]|\p{P}/gu;

export function normalizeAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(PUNCTUATION, '')
    .replace(/\b(a|an|the)\b/g, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .join(' ');
}

/** 1 when the normalised prediction equals any normalised accepted answer, else 0. */
export function exactMatch(prediction: string, answers: string[]): number {
  const p = normalizeAnswer(prediction);
  return answers.some((a) => normalizeAnswer(a) === p) ? 1 : 0;
}

/** Token-level F1 against the best-matching accepted answer (bag of normalised tokens). */
export function tokenF1(prediction: string, answers: string[]): number {
  return Math.max(0, ...answers.map((a) => f1Pair(prediction, a)));
}

function f1Pair(prediction: string, answer: string): number {
  const p = normalizeAnswer(prediction).split(' ').filter(Boolean);
  const g = normalizeAnswer(answer).split(' ').filter(Boolean);
  // SQuAD: two empty answers agree; one empty answer agrees with nothing.
  if (p.length === 0 || g.length === 0) return p.length === g.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of g) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of p) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      common++;
      counts.set(t, c - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / p.length;
  const recall = common / g.length;
  return (2 * precision * recall) / (precision + recall);
}

/**
 * PopQA's criterion: 1 when any accepted answer occurs in the output. Both sides are normalised and matched on
 * word boundaries, so "Paris" counts inside "born in Paris, France" but "pol" does not count inside "police".
 */
export function answerInOutput(output: string, answers: string[]): number {
  const o = ` ${normalizeAnswer(output)} `;
  return answers.some((a) => {
    const n = normalizeAnswer(a);
    return n !== '' && o.includes(` ${n} `);
  })
    ? 1
    : 0;
}

export function accuracy(predictions: string[], golds: string[]): number {
  if (predictions.length !== golds.length) throw new Error(`accuracy: ${predictions.length} predictions for ${golds.length} golds`);
  if (golds.length === 0) return 0;
  let right = 0;
  for (let i = 0; i < golds.length; i++) if (predictions[i] === golds[i]) right++;
  return right / golds.length;
}

/**
 * Macro-averaged F1 over `labels` (default: every label seen in golds or predictions). A label with no gold and
 * no prediction is left out; one with no true positive counts as F1 0 (scikit-learn's zero_division=0).
 */
export function macroF1(predictions: string[], golds: string[], labels?: string[]): number {
  if (predictions.length !== golds.length) throw new Error(`macroF1: ${predictions.length} predictions for ${golds.length} golds`);
  const set = labels ?? [...new Set([...golds, ...predictions])];
  const scores: number[] = [];
  for (const label of set) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < golds.length; i++) {
      const p = predictions[i] === label;
      const g = golds[i] === label;
      if (p && g) tp++;
      else if (p) fp++;
      else if (g) fn++;
    }
    if (tp + fp + fn === 0) continue;
    scores.push(tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn));
  }
  return scores.length === 0 ? 0 : scores.reduce((a, b) => a + b, 0) / scores.length;
}

export function mean(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}
