/**
 * Logits processing, kept apart from the generation loop (as transformers.js does): each processor
 * rewrites one position's logits in place; masked entries become -Infinity.
 */
export type LogitsProcessor = (logits: Float32Array) => void;

/** Divide by the temperature (> 0). */
export function temperatureProcessor(temperature: number): LogitsProcessor {
  if (!(temperature > 0)) throw new Error(`temperature must be > 0, got ${temperature}`);
  return (logits) => {
    for (let i = 0; i < logits.length; i++) logits[i] /= temperature;
  };
}

/** Keep the k highest logits (ties at the k-th value kept). */
export function topKProcessor(k: number): LogitsProcessor {
  if (!Number.isInteger(k) || k < 1) throw new Error(`top-k must be an integer >= 1, got ${k}`);
  return (logits) => {
    if (k >= logits.length) return;
    const kth = Float32Array.from(logits).sort().reverse()[k - 1];
    for (let i = 0; i < logits.length; i++) if (logits[i] < kth) logits[i] = Number.NEGATIVE_INFINITY;
  };
}

/** Nucleus: keep the smallest set of most likely tokens whose probability reaches p (at least one). */
export function topPProcessor(p: number): LogitsProcessor {
  if (!(p > 0 && p <= 1)) throw new Error(`top-p must be in (0, 1], got ${p}`);
  return (logits) => {
    if (p >= 1) return;
    const probs = softmax(logits);
    const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]);
    let mass = 0;
    let kept = 0;
    while (kept < order.length && mass < p) mass += probs[order[kept++]];
    for (let i = kept; i < order.length; i++) logits[order[i]] = Number.NEGATIVE_INFINITY;
  };
}

/** Softmax in float64 (stable: shifted by the max). */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp(logits[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** log softmax(logits)[index] in float64. */
export function logProbability(logits: ArrayLike<number>, index: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return logits[index] - max - Math.log(sum);
}

/** Index of the largest logit (the first on ties, as torch.argmax). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Draw an index from softmax(logits) with a uniform sample u in [0, 1). */
export function sampleIndex(logits: ArrayLike<number>, u: number): number {
  const probs = softmax(logits);
  let acc = 0;
  for (let i = 0; i < probs.length; i++) {
    acc += probs[i];
    if (u < acc) return i;
  }
  return argmax(logits);
}
