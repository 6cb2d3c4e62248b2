import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TemplateAugmenter } from '@rg/augment';
import { CorpusStore } from '@rg/corpus';
import { afterAll, describe, expect, it } from 'vitest';
import { augmentReported, ingestReported, NO_PROGRESS, type Reporter, SILENT, StepInputError, stepCounter } from './reported.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A reporter that keeps the lines and the counters' totals and ticks. */
function recorder() {
  const lines: string[] = [];
  const counters: Array<{ label: string; total: number; ticks: number; stopped: boolean }> = [];
  const reporter: Reporter = {
    info: (line) => lines.push(line),
    progress: (label, total) => {
      const c = { label, total, ticks: 0, stopped: false };
      counters.push(c);
      return {
        tick: (n = 1) => {
          c.ticks += n;
        },
        stop: () => {
          c.stopped = true;
        },
      };
    },
  };
  return { reporter, lines, counters };
}

describe('reported steps', () => {
  it('ingest then augment report their summaries and counters; nothing to augment is a StepInputError', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-reported-'));
    dirs.push(dir);
    const input = join(dir, 'docs.jsonl');
    writeFileSync(
      input,
      `${JSON.stringify({ id: 'a', text: 'The Amber Tower was built in 1892 by the engineer Hilde Varga in the town of Oslen.' })}\n`,
    );
    const store = CorpusStore.open(join(dir, 'corpus'), { create: true });
    try {
      const { reporter, lines, counters } = recorder();
      const s = await ingestReported(reporter, store, input);
      expect(s.added).toBe(1);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(`^1 records read: 1 added, 0 duplicates, 0 skipped; 1 documents in ${store.dir} \\(\\d+ docs/s\\)$`),
      );
      expect(counters[0]).toMatchObject({ label: `ingest ${input}`, stopped: true });

      const out = join(dir, 'augmented.jsonl');
      const passages = [{ id: 'a', text: store.get('a')!.text }];
      const a = await augmentReported(reporter, passages, out, new TemplateAugmenter({ qaCount: 2 }));
      expect(a).toMatchObject({ processed: 1, ok: 1 });
      expect(lines.at(-1)).toBe(`1 passages augmented (0 already done): 1 ok, 0 failed -> ${out}`);
      expect(counters.at(-1)).toMatchObject({ label: 'augment', total: 1, ticks: 1, stopped: true });

      await expect(augmentReported(reporter, [], out, new TemplateAugmenter({ qaCount: 2 }))).rejects.toThrow(StepInputError);
    } finally {
      store.close();
    }
  });
});

describe('stepCounter', () => {
  it('numbers the steps, and a skipped group takes one number and shrinks the total by the rest', () => {
    const { reporter, lines } = recorder();
    const steps = stepCounter(reporter, 6);
    steps.announce('ingest');
    steps.skip('cluster k=50: skipped (too few documents)', 3);
    steps.announce('answer');
    steps.announce('table');
    expect(lines).toEqual(['[1/6] ingest', '[2/4] cluster k=50: skipped (too few documents)', '[3/4] answer', '[4/4] table']);
  });

  it('SILENT hands out the counter that counts nothing', () => {
    expect(SILENT.progress('x', 3, 'docs')).toBe(NO_PROGRESS);
  });
});
