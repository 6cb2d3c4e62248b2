import type { Dataset, MethodOutcome, Prediction } from '@rg/inference';
import { describe, expect, it } from 'vitest';
import { formatDemoReport } from './demo.js';

describe('demo report', () => {
  const dataset: Dataset = {
    name: 'demo',
    documents: [],
    primaryMetric: 'accuracy',
    examples: [
      { id: 'a', question: 'In which year was Velmora founded?', answers: ['1742'], choices: ['1742', '1815'] },
      { id: 'b', question: 'Who made quorinium?', answers: ['Halvard Menst'], choices: ['Anders Krogh', 'Halvard Menst'] },
    ],
  };
  const outcome = (method: MethodOutcome['method'], picks: string[]): MethodOutcome => {
    const predictions = dataset.examples.map(
      (ex, i) => ({ id: ex.id, prediction: picks[i], score: picks[i] === ex.answers[0] ? 1 : 0 }) as Prediction,
    );
    const accuracy = predictions.filter((p) => p.score === 1).length / predictions.length;
    return {
      method,
      dir: '',
      predictions,
      resumed: 0,
      seconds: 2,
      metrics: { n: 2, score: accuracy, accuracy } as MethodOutcome['metrics'],
    };
  };

  it('says plainly whether the adapters beat the base model', () => {
    const helped = formatDemoReport(
      [outcome('wo_param', ['1815', 'Anders Krogh']), outcome('cat_all_one', ['1742', 'Anders Krogh'])],
      dataset,
    );
    expect(helped).toMatch(/wo_param\s+0\.000\s+0\/2/);
    expect(helped).toMatch(/cat_all_one\s+0\.500\s+1\/2/);
    expect(helped).toContain('The adapters added knowledge: cat_all_one (retrieved adapters, no passages) 0.500 vs the base model 0.000.');
    expect(helped).toContain('+ 1742');
    const flat = formatDemoReport(
      [outcome('wo_param', ['1742', 'Anders Krogh']), outcome('cat_all_one', ['1742', 'Anders Krogh'])],
      dataset,
    );
    expect(flat).toContain('did NOT add measurable knowledge');
  });
});
