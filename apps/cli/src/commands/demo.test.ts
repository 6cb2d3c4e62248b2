import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dataset, MethodOutcome, Prediction } from '@rg/inference';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';
import { formatReport } from './demo.js';

describe('rg demo', () => {
  it('runs the whole pipeline on one document and ends with one JSON line of accuracies', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'rg-demo-')), 'demo');
    const r = await runCli(['demo', '--docs', '1', '--out', out, '--json'], { env: {} });
    expect(r.code, r.stderr).toBe(0);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(Object.keys(last)).toEqual(['wo_param', 'icl', 'cat_all_one', 'combine']);
    for (const v of Object.values(last)) expect(v).toBeGreaterThanOrEqual(0);
    // the passage in the prompt answers questions about its own invented facts
    expect(last.icl).toBeGreaterThan(last.wo_param);
    for (const m of ['wo_param', 'icl', 'cat_all_one', 'combine']) {
      expect(existsSync(join(out, 'output', 'smollm2-135m-instruct', 'rank=2_alpha=32', 'demo'))).toBe(true);
      expect(r.stderr).toContain(m);
    }
    const applied = JSON.parse(
      readFileSync(
        join(out, 'output', 'smollm2-135m-instruct', 'rank=2_alpha=32', 'demo', 'lr=0.001_epoch=5', 'cat_all_one', 'predict.json'),
        'utf8',
      ),
    );
    expect(applied[0].adapters).toEqual(['velmora']);
    expect(readFileSync(join(out, 'report.txt'), 'utf8')).toContain('cat_all_one');
    // Each step is a library call announced by the demo, not an rg subcommand (whose line would read "label: rg ...").
    const announced = r.stderr.split('\n').filter((l) => /^\[\d\/6\]/.test(l));
    expect(announced.map((l) => l.replace(/ \(.*$/, ''))).toEqual([
      '[1/6] pull the model',
      '[2/6] ingest the corpus',
      '[3/6] index it for BM25',
      '[4/6] augment every document',
      '[5/6] encode one adapter per document',
      '[6/6] answer 3 questions with wo_param, icl, cat_all_one, combine',
    ]);
    expect(r.stderr).toMatch(/^encoded 1, skipped 0 \(already stored\), failed 0 in /m);
  }, 1_800_000);
});

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
    const helped = formatReport([outcome('wo_param', ['1815', 'Anders Krogh']), outcome('cat_all_one', ['1742', 'Anders Krogh'])], dataset);
    expect(helped).toMatch(/wo_param\s+0\.000\s+0\/2/);
    expect(helped).toMatch(/cat_all_one\s+0\.500\s+1\/2/);
    expect(helped).toContain('The adapters added knowledge: cat_all_one (retrieved adapters, no passages) 0.500 vs the base model 0.000.');
    expect(helped).toContain('+ 1742');
    const flat = formatReport([outcome('wo_param', ['1742', 'Anders Krogh']), outcome('cat_all_one', ['1742', 'Anders Krogh'])], dataset);
    expect(flat).toContain('did NOT add measurable knowledge');
  });
});
