import { describe, expect, it } from 'vitest';
import { evaluate, formatMetrics } from './evaluate.js';
import type { Prediction } from './predict.js';

const p = (prediction: string, gold: string, latencyMs: number, missing: string[] = []): Prediction => ({
  id: prediction,
  question: '',
  retrievedIds: [],
  adapters: [],
  missingAdapters: missing,
  prediction,
  gold: [gold],
  score: prediction === gold ? 1 : 0,
  em: prediction === gold ? 1 : 0,
  f1: prediction === gold ? 1 : 0,
  contains: prediction === gold ? 1 : 0,
  latencyMs,
});

describe('evaluate', () => {
  const preds = [p('yes', 'yes', 10), p('no', 'maybe', 30, ['d1', 'd2']), p('no', 'no', 20)];

  it('averages the per-question scores, latency and missing adapters', () => {
    const m = evaluate({ primaryMetric: 'accuracy', labels: ['yes', 'no', 'maybe'] }, preds);
    expect(m.n).toBe(3);
    expect(m.accuracy).toBeCloseTo(2 / 3, 12);
    // yes 1, no 2/3 (tp1 fp1), maybe 0 -> (1 + 2/3 + 0) / 3
    expect(m.macroF1).toBeCloseTo((1 + 2 / 3) / 3, 12);
    expect(m.meanLatencyMs).toBe(20);
    expect(m.missingAdapters).toBe(2);
    expect(formatMetrics('icl', m)).toContain('accuracy: 0.6667\nmacro_f1: 0.5556\n');
  });

  it('reports macro-F1 only over a closed label set', () => {
    expect(evaluate({ primaryMetric: 'accuracy' }, preds).macroF1).toBeUndefined();
    expect(evaluate({ primaryMetric: 'contains' }, preds).accuracy).toBeUndefined();
  });
});
