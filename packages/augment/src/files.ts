/**
 * Files in and out: passages to augment (JSON Lines or the published layout), the append-only JSONL output that a
 * crashed or interrupted run resumes from, and reading augmented data back for the trainer.
 */
import { open, readFile, rename, truncate } from 'node:fs/promises';
import type { Passage } from './generator.js';
import { isPragLayout, type PragItem, passagesFromPrag, recordsFromPrag } from './prag.js';
import { AugmentDataError, type AugmentedRecord, validateAugmentedRecord } from './record.js';

export interface PassageInput {
  passages: Passage[];
  /** Set when the input was in the published layout, so the output can be written back into the same items. */
  pragItems?: PragItem[];
}

function parseLine(line: string, where: string): unknown {
  try {
    return JSON.parse(line);
  } catch (e) {
    throw new AugmentDataError(`${where}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Passages from a file: JSON Lines of `{id, text, title?}`, a JSON array of the same, or the published layout
 * (an array of items with `passages`). Ids must be unique.
 */
export async function readPassages(path: string): Promise<PassageInput> {
  const content = await readFile(path, 'utf8');
  const first = content.trimStart()[0];
  let result: PassageInput;
  if (first === '[') {
    const value = parseLine(content, path);
    if (isPragLayout(value)) result = { passages: passagesFromPrag(value, path), pragItems: value };
    else if (Array.isArray(value)) result = { passages: value.map((v, i) => toPassage(v, `${path}: item ${i}`)) };
    else throw new AugmentDataError(`${path}: expected a JSON array`);
  } else {
    const passages: Passage[] = [];
    content.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      const where = `${path} line ${i + 1}`;
      passages.push(toPassage(parseLine(line, where), where));
    });
    result = { passages };
  }
  const seen = new Set<string>();
  for (const p of result.passages) {
    if (seen.has(p.id)) throw new AugmentDataError(`${path}: passage id "${p.id}" occurs more than once`);
    seen.add(p.id);
  }
  return result;
}

function toPassage(v: unknown, where: string): Passage {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new AugmentDataError(`${where}: expected an object {id, text, title?}`);
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'string' && typeof o.id !== 'number') throw new AugmentDataError(`${where}: field "id": expected a string or number`);
  if (typeof o.text !== 'string' || o.text.trim() === '') throw new AugmentDataError(`${where}: field "text": expected a non-empty string`);
  if (o.title !== undefined && typeof o.title !== 'string') throw new AugmentDataError(`${where}: field "title": expected a string`);
  return { id: String(o.id), text: o.text, ...(typeof o.title === 'string' ? { title: o.title } : {}) };
}

interface JsonlScan {
  records: AugmentedRecord[];
  /** Byte length of the complete lines; anything after is a torn line from an interrupted write. */
  goodBytes: number;
  tornBytes: number;
}

function scanJsonl(buffer: Buffer, path: string): JsonlScan {
  const lastNewline = buffer.lastIndexOf(0x0a);
  const goodBytes = lastNewline + 1;
  const records: AugmentedRecord[] = [];
  const lines = buffer.subarray(0, goodBytes).toString('utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${path} line ${i + 1}`;
    records.push(validateAugmentedRecord(parseLine(line, where), where));
  });
  return { records, goodBytes, tornBytes: buffer.length - goodBytes };
}

/** The last record of each passage id (a retried passage appends a newer record). */
function latestById(records: AugmentedRecord[]): AugmentedRecord[] {
  const byId = new Map<string, AugmentedRecord>();
  for (const r of records) {
    byId.delete(r.passageId);
    byId.set(r.passageId, r);
  }
  return [...byId.values()];
}

/**
 * Augmented data for training: our JSONL output (a torn last line is ignored) or a file in the published layout.
 * Returns every passage's latest record, failed ones included: filter on `status === 'ok'`.
 */
export async function readAugmented(path: string): Promise<AugmentedRecord[]> {
  const buffer = await readFile(path);
  const text = buffer.toString('utf8');
  if (text.trimStart().startsWith('[')) {
    const value = parseLine(text, path);
    if (!isPragLayout(value)) throw new AugmentDataError(`${path}: expected an array of items with "augment" (the published layout)`);
    return latestById(recordsFromPrag(value, path));
  }
  return latestById(scanJsonl(buffer, path).records);
}

/** Append-only writer of the JSONL output: one line per record, flushed to disk before the next is counted done. */
export class AugmentOutput {
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    private readonly handle: Awaited<ReturnType<typeof open>>,
    /** Latest record per passage id already in the file. */
    readonly done: Map<string, AugmentedRecord>,
    /** Bytes of a torn last line that were cut off on opening (0 when the file ended cleanly). */
    readonly tornBytesRemoved: number,
  ) {}

  /** Open (creating if needed) and scan the output; a torn last line is truncated away so appends start clean. */
  static async open(path: string): Promise<AugmentOutput> {
    let existing: Buffer = Buffer.alloc(0);
    try {
      existing = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const scan = scanJsonl(existing, path);
    if (scan.tornBytes > 0) await truncate(path, scan.goodBytes);
    const handle = await open(path, 'a');
    const done = new Map(latestById(scan.records).map((r) => [r.passageId, r]));
    return new AugmentOutput(handle, done, scan.tornBytes);
  }

  /** Appends are serialised: concurrent workers never interleave within a line. */
  append(record: AugmentedRecord): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    const write = this.queue.then(async () => {
      await this.handle.write(line);
      await this.handle.datasync();
      this.done.set(record.passageId, record);
    });
    this.queue = write.catch(() => {});
    return write;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.handle.close();
  }
}

/** Write JSON atomically: a temporary file beside the target, flushed to disk, then renamed over it. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const handle = await open(tmp, 'w');
  try {
    await handle.write(`${JSON.stringify(value, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}
