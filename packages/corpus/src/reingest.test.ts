import { appendFileSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ingest } from './ingest.js';
import { CorpusStore, StoreOpenError } from './store.js';

// Issue 17 case 1: a resume checkpoint is tied to the file's bytes, not only its path and offset.
const opened: CorpusStore[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

function setup(): { file: string; store: CorpusStore; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rg-reingest-'));
  const store = CorpusStore.open(join(dir, 'store'));
  opened.push(store);
  return { file: join(dir, 'x.jsonl'), store, dir };
}

const line = (id: string, text: string): string => `${JSON.stringify({ id, text })}\n`;

describe('fault: re-ingest of an edited or replaced file', () => {
  it('a replaced file (the issue’s commands) starts over: nothing lost, no bogus broken line', async () => {
    const { file, store } = setup();
    writeFileSync(file, '{"id":"x1","text":"short one"}\n');
    await ingest(store, { input: file, format: 'jsonl' });
    writeFileSync(file, '{"id":"y1","text":"a completely different corpus, first line is longer"}\n{"id":"y2","text":"second"}\n');
    const sum = await ingest(store, { input: file, format: 'jsonl' });
    expect(sum.restarted).toMatch(/the file changed \(size 31 -> 101 bytes.*first 31 bytes differ/);
    expect(sum).toMatchObject({ resumedFromByte: 0, records: 2, added: 2, skipped: 0, badRecords: [] });
    expect(store.get('y1')?.text).toBe('a completely different corpus, first line is longer');
    expect(store.get('y2')?.text).toBe('second');
  });

  it('fixing a skipped bad line in place and re-running ingests it (and only it)', async () => {
    const { file, store } = setup();
    writeFileSync(file, line('a', 'first') + '{"id":"b","text":"broken\n' + line('c', 'third'));
    const first = await ingest(store, { input: file, format: 'jsonl' });
    expect(first.badRecords.map((b) => b.line)).toEqual([2]);
    writeFileSync(file, line('a', 'first') + line('b', 'fixed') + line('c', 'third'));
    const again = await ingest(store, { input: file, format: 'jsonl' });
    expect(again).toMatchObject({ records: 3, added: 1, duplicates: 2, skipped: 0, replaced: 0 });
    expect(store.get('b')?.text).toBe('fixed');
    expect(store.count()).toBe(3);
  });

  it('an edited record replaces its stored version by id: no duplicate, no conflict', async () => {
    const { file, store } = setup();
    writeFileSync(file, line('a', 'old text') + line('b', 'kept'));
    await ingest(store, { input: file, format: 'jsonl' });
    writeFileSync(file, line('a', 'new text, edited') + line('b', 'kept'));
    const sum = await ingest(store, { input: file, format: 'jsonl' });
    expect(sum).toMatchObject({ replaced: 1, added: 0, duplicates: 1, skipped: 0 });
    expect(store.get('a')?.text).toBe('new text, edited');
    expect(store.count()).toBe(2);
    // Re-running the same (now unchanged) file is a no-op.
    expect(await ingest(store, { input: file, format: 'jsonl' })).toMatchObject({ records: 0, restarted: undefined });
  });

  it('after a restart, one id twice in the file is still a conflict (the first wins, not the last)', async () => {
    const { file, store } = setup();
    writeFileSync(file, line('a', 'one') + line('a', 'two'));
    expect((await ingest(store, { input: file, format: 'jsonl' })).skipped).toBe(1);
    writeFileSync(file, line('a', 'one') + line('a', 'TWO') + line('z', 'new'));
    const sum = await ingest(store, { input: file, format: 'jsonl' });
    expect(sum.restarted).toBeDefined();
    expect(sum.badRecords).toEqual([{ line: 2, message: 'id "a" is already stored with different content' }]);
    expect(store.get('a')?.text).toBe('one');
  });

  it('an interrupted ingest of a file edited before its checkpoint starts over', async () => {
    const { file, store } = setup();
    const records = (tag: string): string => Array.from({ length: 50 }, (_, i) => line(`d${i}`, `${tag} ${i}`)).join('');
    writeFileSync(file, records('v1'));
    let batches = 0;
    await expect(
      ingest(store, {
        input: file,
        format: 'jsonl',
        batchSize: 10,
        onProgress: () => {
          if (++batches === 2) throw new Error('simulated crash');
        },
      }),
    ).rejects.toThrow('simulated crash');
    expect(store.count()).toBe(20);
    writeFileSync(file, records('v2'));
    const sum = await ingest(store, { input: file, format: 'jsonl', batchSize: 10 });
    expect(sum).toMatchObject({ resumedFromByte: 0, records: 50, replaced: 20, added: 30, skipped: 0 });
    expect(store.get('d0')?.text).toBe('v2 0');
    expect(store.count()).toBe(50);
  });

  it('an appended file resumes after the old end; a touched one reads nothing', async () => {
    const { file, store } = setup();
    writeFileSync(file, line('a', 'one'));
    await ingest(store, { input: file, format: 'jsonl' });
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(await ingest(store, { input: file, format: 'jsonl' })).toMatchObject({ records: 0, restarted: undefined });
    appendFileSync(file, line('b', 'two'));
    const sum = await ingest(store, { input: file, format: 'jsonl' });
    expect(sum).toMatchObject({ records: 1, added: 1, restarted: undefined });
    expect(sum.resumedFromByte).toBeGreaterThan(0);
  });

  it('an unfinished last line that is later completed is read again, not resumed mid-line', async () => {
    const { file, store } = setup();
    writeFileSync(file, `${line('a', 'one')}{"id":"b","te`);
    expect((await ingest(store, { input: file, format: 'jsonl' })).skipped).toBe(1);
    appendFileSync(file, 'xt":"two"}\n');
    const sum = await ingest(store, { input: file, format: 'jsonl' });
    expect(sum.restarted).toMatch(/unfinished last line was extended/);
    expect(sum).toMatchObject({ added: 1, skipped: 0 });
    expect(store.get('b')?.text).toBe('two');
  });

  it('a checkpoint from an older rg (no file hash) starts over, adding nothing twice', async () => {
    const { file, store } = setup();
    writeFileSync(file, line('a', 'one') + line('b', 'two'));
    await ingest(store, { input: file, format: 'jsonl' });
    const cp = store.checkpoint(`jsonl:${file}`);
    expect(cp?.file?.prefixSha256).toMatch(/^[0-9a-f]{64}$/);
    store.db.prepare('UPDATE ingest_checkpoints SET prefix_sha256 = NULL, byte_offset = 5, done = 0').run();
    const sum = await ingest(store, { input: file, format: 'jsonl' });
    expect(sum.restarted).toMatch(/older rg/);
    expect(sum).toMatchObject({ added: 0, duplicates: 2, skipped: 0 });
  });

  it('non-UTF-8 bytes are counted with their lines (a U+FFFD written in the file is not)', async () => {
    const { file, store } = setup();
    writeFileSync(
      file,
      Buffer.concat([Buffer.from(line('a', 'real \uFFFD char')), Buffer.from('{"id":"b","text":"bad \xff byte"}\n', 'latin1')]),
    );
    const sum = await ingest(store, { input: file, format: 'jsonl' });
    expect(sum).toMatchObject({ added: 2, invalidUtf8: 1, invalidUtf8Lines: [2] });
  });
});

describe('fault: store paths', () => {
  it('--store naming a file, a corrupted database, and a missing store for a read-only open name the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-store-open-'));
    writeFileSync(join(dir, 'afile'), 'x');
    expect(() => CorpusStore.open(join(dir, 'afile'))).toThrow(`${join(dir, 'afile')}: is a file, expected a store folder`);
    const bad = join(dir, 'bad');
    CorpusStore.open(bad).close();
    writeFileSync(join(bad, 'corpus.sqlite'), 'this is not a database, it is text long enough to be read as a header..........');
    expect(() => CorpusStore.open(bad)).toThrow(StoreOpenError);
    expect(() => CorpusStore.open(bad)).toThrow(`${join(bad, 'corpus.sqlite')}: cannot open the corpus store (file is not a database)`);
    expect(() => CorpusStore.open(join(dir, 'typo'), { create: false })).toThrow(/typo: no corpus store here/);
    expect(() => CorpusStore.open(join(dir, 'typo'), { create: false })).toThrow(/rg corpus ingest/);
  });
});
