import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAugmented, readPassages } from './files.js';
import { type Augmenter, type AugmentOptions, FatalGeneratorError, type Passage } from './generator.js';
import { type AugmentedRecord, validateAugmentedRecord } from './record.js';
import { runAugment } from './run.js';
import { TemplateAugmenter } from './template.js';

const PASSAGES: Passage[] = Array.from({ length: 6 }, (_, i) => ({
  id: `doc-${i}`,
  text: `Station ${i} opened in ${1900 + i} near the River Tamar. It served ${i + 10} villages until 1965. Its building is now a museum.`,
}));

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'rg-augment-'));
}

function lines(path: string): AugmentedRecord[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l, i) => validateAugmentedRecord(JSON.parse(l), `line ${i + 1}`));
}

/** Wraps an augmenter to fail or stall on chosen passages. */
class Faulty implements Augmenter {
  readonly generator = 'faulty';
  readonly promptVersion = 'v0';
  private readonly inner = new TemplateAugmenter();
  private inFlight = 0;
  maxInFlight = 0;
  constructor(
    private readonly fail: (p: Passage) => Error | undefined,
    private readonly delayMs = 0,
  ) {}
  async augment(p: Passage, o?: AugmentOptions): Promise<AugmentedRecord> {
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    await new Promise((r) => setTimeout(r, this.delayMs));
    this.inFlight--;
    const e = this.fail(p);
    if (e) throw e;
    return { ...(await this.inner.augment(p, o)), generator: this.generator, promptVersion: this.promptVersion };
  }
}

describe('reading passages', () => {
  it('reads JSON Lines {id, text, title?} and names the line and field of bad input', async () => {
    const dir = tmp();
    const file = join(dir, 'in.jsonl');
    writeFileSync(file, '{"id": 1, "text": "One.", "title": "T"}\n\n{"id": "b", "text": "Two."}\n');
    expect((await readPassages(file)).passages).toEqual([
      { id: '1', text: 'One.', title: 'T' },
      { id: 'b', text: 'Two.' },
    ]);
    writeFileSync(file, '{"id": 1, "text": "One."}\n{"id": 2, "body": "Two."}\n');
    await expect(readPassages(file)).rejects.toThrow(`${file} line 2: field "text": expected a non-empty string`);
    writeFileSync(file, '{"id": 1, "text": "One."}\n{"id": 2, "text": "Two."\n');
    await expect(readPassages(file)).rejects.toThrow(`${file} line 2: not valid JSON`);
    writeFileSync(file, '{"id": 1, "text": "One."}\n{"id": 1, "text": "Two."}\n');
    await expect(readPassages(file)).rejects.toThrow('passage id "1" occurs more than once');
  });
});

describe('runAugment', () => {
  it('augments every passage into one valid JSONL line each and summarises', async () => {
    const out = join(tmp(), 'out.jsonl');
    const s = await runAugment({ passages: PASSAGES, augmenter: new TemplateAugmenter(), outputPath: out });
    expect(lines(out).map((r) => r.passageId)).toEqual(PASSAGES.map((p) => p.id));
    expect(s).toMatchObject({
      generator: 'template',
      passages: 6,
      skipped: 0,
      processed: 6,
      ok: 6,
      failed: 0,
      validShare: 1,
      groundedShare: 1,
    });
    expect(s.qaPerPassage).toBe(3);
    expect(s.passagesPerMin).toBeGreaterThan(0);
  });

  it('resumes after an interruption without redoing or duplicating passages', async () => {
    const out = join(tmp(), 'out.jsonl');
    const stop = new AbortController();
    const first = await runAugment({
      passages: PASSAGES,
      augmenter: new TemplateAugmenter(),
      outputPath: out,
      signal: stop.signal,
      onRecord: (_r, p) => {
        if (p.done === 2) stop.abort();
      },
    });
    expect(first).toMatchObject({ processed: 2, interrupted: true });
    const second = await runAugment({ passages: PASSAGES, augmenter: new TemplateAugmenter(), outputPath: out });
    expect(second).toMatchObject({ skipped: 2, processed: 4, interrupted: false });
    expect(lines(out).map((r) => r.passageId)).toEqual(PASSAGES.map((p) => p.id));
  });

  it('cuts a torn last line (crash mid-write) and redoes that passage', async () => {
    const out = join(tmp(), 'out.jsonl');
    await runAugment({ passages: PASSAGES.slice(0, 3), augmenter: new TemplateAugmenter(), outputPath: out });
    const torn = '{"passageId": "doc-3", "passage": "Station 3 op';
    appendFileSync(out, torn);
    expect(await readAugmented(out)).toHaveLength(3); // the trainer ignores the torn line too
    const s = await runAugment({ passages: PASSAGES, augmenter: new TemplateAugmenter(), outputPath: out });
    expect(s).toMatchObject({ skipped: 3, processed: 3, tornBytesRemoved: Buffer.byteLength(torn) });
    expect(lines(out).map((r) => r.passageId)).toEqual(PASSAGES.map((p) => p.id));
  });

  it('refuses an output whose middle is corrupt, naming the line', async () => {
    const out = join(tmp(), 'out.jsonl');
    writeFileSync(out, '{"passageId": "x"}\n');
    await expect(runAugment({ passages: PASSAGES, augmenter: new TemplateAugmenter(), outputPath: out })).rejects.toThrow(
      `${out} line 1: field "passage": expected a non-empty string`,
    );
  });

  it('records a passage whose augmentation throws as failed and carries on', async () => {
    const out = join(tmp(), 'out.jsonl');
    const augmenter = new Faulty((p) => (p.id === 'doc-1' ? new Error('model produced garbage') : undefined));
    const s = await runAugment({ passages: PASSAGES, augmenter, outputPath: out });
    expect(s).toMatchObject({ processed: 6, ok: 5, failed: 1, failureReasons: [{ reason: 'error: model produced garbage', count: 1 }] });
    expect(lines(out).find((r) => r.passageId === 'doc-1')).toMatchObject({
      status: 'failed',
      failureReason: 'error: model produced garbage',
    });
  });

  it('skips failed passages on resume unless asked to retry them; the latest record wins', async () => {
    const out = join(tmp(), 'out.jsonl');
    await runAugment({
      passages: PASSAGES,
      augmenter: new Faulty((p) => (p.id === 'doc-1' ? new Error('bad') : undefined)),
      outputPath: out,
    });
    const again = await runAugment({ passages: PASSAGES, augmenter: new TemplateAugmenter(), outputPath: out });
    expect(again.processed).toBe(0);
    const retried = await runAugment({ passages: PASSAGES, augmenter: new TemplateAugmenter(), outputPath: out, retryFailed: true });
    expect(retried).toMatchObject({ processed: 1, ok: 1 });
    expect(lines(out)).toHaveLength(7);
    const records = await readAugmented(out);
    expect(records).toHaveLength(6);
    expect(records.every((r) => r.status === 'ok')).toBe(true);
  });

  it('stops on a fatal generator error, keeping what was written', async () => {
    const out = join(tmp(), 'out.jsonl');
    const augmenter = new Faulty((p) => (p.id === 'doc-2' ? new FatalGeneratorError('HTTP 401') : undefined));
    await expect(runAugment({ passages: PASSAGES, augmenter, outputPath: out })).rejects.toThrow('HTTP 401');
    expect(lines(out).map((r) => r.passageId)).toEqual(['doc-0', 'doc-1']);
  });

  it('runs passages concurrently with whole lines and every passage once', async () => {
    const out = join(tmp(), 'out.jsonl');
    const many = Array.from({ length: 24 }, (_, i) => ({ id: `c${i}`, text: `${PASSAGES[i % 6].text} Extra ${i}.` }));
    const augmenter = new Faulty(() => undefined, 20);
    const s = await runAugment({ passages: many, augmenter, outputPath: out, concurrency: 4 });
    expect(s.processed).toBe(24);
    expect(augmenter.maxInFlight).toBe(4);
    expect(new Set(lines(out).map((r) => r.passageId)).size).toBe(24);
  });
});
