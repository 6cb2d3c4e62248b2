import type { Prediction } from '@rg/inference';
import { describe, expect, it } from 'vitest';
import type { MethodOutcome } from '../infer/pipeline.js';
import { runCli } from '../test-helpers.js';
import { markdownTable } from './bench-e2e.js';

const outcome = (method: MethodOutcome['method'], score: number, latency: number): MethodOutcome => ({
  method,
  dir: '',
  predictions: [] as Prediction[],
  resumed: 0,
  seconds: 1,
  metrics: { n: 4, score, primaryMetric: 'accuracy', em: 0, f1: 0, contains: 0, meanLatencyMs: latency, missingAdapters: 0 },
});

describe('rg bench e2e', () => {
  it('lays the results out as the published table, n/a where a method is not built', () => {
    const table = markdownTable(
      'smollm2',
      [outcome('wo_param', 0.25, 100), outcome('icl', 0.75, 300), outcome('cat_all_one', 0.5, 120), outcome('combine', 1, 320)],
      {
        encodeSecondsPerDocument: 12.345,
        bytesPerAdapter: 1234,
        questions: 4,
      },
    );
    const [head, , row, , note] = table.split('\n');
    expect(head).toBe('| model | base | DAPT | RAG | RG | RG+RAG | cluster | encode s/doc | bytes/adapter | RG latency ms/question |');
    expect(row).toBe('| smollm2 | 0.250 | n/a | 0.750 | 0.500 | 1.000 | n/a | 12.35 | 1234 | 120 |');
    expect(note).toContain('accuracy on 4 questions. DAPT: n/a because');
  });

  it('needs a corpus for a jsonl dataset and rejects unknown datasets', async () => {
    const r = await runCli(['bench', 'e2e', '--dataset', 'squad', '--sample', '5'], { env: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown dataset');
  });
});
