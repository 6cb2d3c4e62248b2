import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

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
