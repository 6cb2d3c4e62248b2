import type { Dataset } from './datasets/types.js';
import { accuracy, macroF1, mean } from './metrics.js';
import type { Prediction } from './predict.js';

export interface Metrics {
  n: number;
  /** The dataset's primary metric, averaged (what tables report). */
  score: number;
  primaryMetric: Dataset['primaryMetric'];
  /** Questions with choices: share whose chosen label is the gold one; macro-F1 over a dataset's closed label set. */
  accuracy?: number;
  macroF1?: number;
  em: number;
  f1: number;
  contains: number;
  meanLatencyMs: number;
  /** Retrieved ids with no stored adapter, summed over questions (0 when every adapter was found). */
  missingAdapters: number;
}

export function evaluate(dataset: Pick<Dataset, 'primaryMetric' | 'labels'>, predictions: Prediction[]): Metrics {
  const m: Metrics = {
    n: predictions.length,
    score: mean(predictions.map((p) => p.score)),
    primaryMetric: dataset.primaryMetric,
    em: mean(predictions.map((p) => p.em)),
    f1: mean(predictions.map((p) => p.f1)),
    contains: mean(predictions.map((p) => p.contains)),
    meanLatencyMs: mean(predictions.map((p) => p.latencyMs)),
    missingAdapters: predictions.reduce((s, p) => s + p.missingAdapters.length, 0),
  };
  if (dataset.primaryMetric === 'accuracy') {
    const preds = predictions.map((p) => p.prediction);
    const golds = predictions.map((p) => p.gold[0]);
    m.accuracy = accuracy(preds, golds);
    // Macro-F1 means something only over a closed label set (yes/no/maybe), not over per-question choices.
    if (dataset.labels) m.macroF1 = macroF1(preds, golds, dataset.labels);
  }
  return m;
}

/** result.txt: one `name: value` line per metric, fixed order, 4 decimals. */
export function formatMetrics(method: string, m: Metrics): string {
  const rows: Array<[string, number | string]> = [
    ['method', method],
    ['n', m.n],
    [`score (${m.primaryMetric})`, m.score],
  ];
  if (m.accuracy !== undefined) rows.push(['accuracy', m.accuracy]);
  if (m.macroF1 !== undefined) rows.push(['macro_f1', m.macroF1]);
  rows.push(
    ['em', m.em],
    ['f1', m.f1],
    ['contains', m.contains],
    ['mean_latency_ms', m.meanLatencyMs],
    ['missing_adapters', m.missingAdapters],
  );
  return `${rows.map(([k, v]) => `${k}: ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : v}`).join('\n')}\n`;
}
