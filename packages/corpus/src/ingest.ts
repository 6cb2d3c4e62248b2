import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { type ChunkOptions, chunkDocument } from './chunk.js';
import {
  BadRecordError,
  type FieldNames,
  fromJsonLine,
  fromPopqaElement,
  fromPubmedqaMember,
  fromTsvLine,
  type InputFormat,
  tsvColumns,
} from './formats.js';
import { decideResume, PrefixHash } from './identity.js';
import { JsonStructureError, type RawRecord, type ReadFrom, readJsonMembers, readLines } from './read.js';
import type { Checkpoint, CorpusStore, Document } from './store.js';

export interface IngestOptions {
  input: string;
  format: InputFormat;
  fields?: FieldNames;
  chunk?: ChunkOptions;
  /** Stop at the first bad record instead of skipping it. */
  strict?: boolean;
  /** Documents per transaction (and per checkpoint). */
  batchSize?: number;
  onProgress?: (p: IngestProgress) => void;
}

export interface IngestProgress {
  records: number;
  added: number;
  bytesRead: number;
  totalBytes: number;
}

export interface BadRecord {
  line: number;
  message: string;
}

export interface IngestSummary {
  input: string;
  format: InputFormat;
  /** Records read in this run (lines, or members of a JSON document). */
  records: number;
  added: number;
  duplicates: number;
  /** Bad records skipped (with --strict the first one throws instead). */
  skipped: number;
  /** The first bad records, with line numbers (at most MAX_REPORTED). */
  badRecords: BadRecord[];
  /** Where this run started: > 0 when an interrupted ingest was resumed. */
  resumedFromByte: number;
  /**
   * Set when a previous checkpoint of this file could not be used (the file was edited, replaced
   * or truncated since): the run read the file from the start and says why.
   */
  restarted?: string;
  /** Stored documents whose content was replaced by an edited record of a changed file (same id). */
  replaced: number;
  /** Records whose bytes were not valid UTF-8 (bad sequences stored as U+FFFD). */
  invalidUtf8: number;
  /** Lines of the first such records (at most MAX_REPORTED). */
  invalidUtf8Lines: number[];
  documents: number;
  seconds: number;
  docsPerSecond: number;
}

export class IngestError extends Error {
  override name = 'IngestError';
}

const MAX_REPORTED = 100;

/**
 * Stream one input file into the store. Each batch is one transaction that also records how far
 * the file has been read and a hash of the bytes read, so an interrupted run resumes where the
 * last batch ended, a re-run of a finished file adds nothing (content-hash dedupe covers files
 * whose checkpoint was lost), and a file changed since starts over instead of resuming mid-record.
 */
export async function ingest(store: CorpusStore, opts: IngestOptions): Promise<IngestSummary> {
  const input = resolve(opts.input);
  const totalBytes = statSync(input).size;
  const batchSize = opts.batchSize ?? 2000;
  const source = `${opts.format}:${input}`;
  const previous = store.checkpoint(source);
  // The checkpoint is tied to the file's bytes: an edited or replaced file starts over (see decideResume).
  const decision = decideResume(input, previous, { lines: opts.format === 'jsonl' || opts.format === 'tsv' });
  let from: ReadFrom = decision.resume && previous ? { byteOffset: previous.byteOffset, line: previous.line } : { byteOffset: 0, line: 1 };
  const t0 = performance.now();
  const summary: IngestSummary = {
    input,
    format: opts.format,
    records: 0,
    added: 0,
    duplicates: 0,
    skipped: 0,
    badRecords: [],
    resumedFromByte: from.byteOffset,
    restarted: decision.restartReason,
    replaced: 0,
    invalidUtf8: 0,
    invalidUtf8Lines: [],
    documents: 0,
    seconds: 0,
    docsPerSecond: 0,
  };
  const finish = (): IngestSummary => {
    summary.documents = store.count();
    summary.seconds = (performance.now() - t0) / 1000;
    summary.docsPerSecond = summary.records / Math.max(summary.seconds, 1e-9);
    return summary;
  };
  if (decision.resume && previous?.done && from.byteOffset === totalBytes) return finish();
  let hasher = decision.hasher;
  if ((opts.format === 'pubmedqa' || opts.format === 'popqa') && decision.resume && previous?.done) {
    // The JSON document was finished and has grown since: resuming would find only its closing bracket.
    from = { byteOffset: 0, line: 1 };
    summary.resumedFromByte = 0;
    hasher = new PrefixHash(input);
  }
  // After a restart, records of the changed file replace what they stored before (same id): idempotent, nothing doubled.
  const replace = decision.restartReason ? store.startReplacing() : undefined;

  const bad = (line: number, message: string): void => {
    if (opts.strict) throw new IngestError(`${input}:${line}: ${message}`);
    summary.skipped++;
    if (summary.badRecords.length < MAX_REPORTED) summary.badRecords.push({ line, message });
  };

  let batch: Document[] = [];
  let batchLines: number[] = [];
  let position: Checkpoint = {
    source,
    byteOffset: from.byteOffset,
    line: from.line,
    records: from.byteOffset > 0 ? (previous?.records ?? 0) : 0,
    done: false,
  };
  const flush = (): void => {
    const result = store.add(batch, { ...position, file: hasher.identity(position.byteOffset) }, { replace });
    summary.added += result.added;
    summary.replaced += result.replaced;
    summary.duplicates += result.duplicates;
    for (const c of result.conflicts) bad(batchLines[c.index], `id "${c.id}" is already stored with different content`);
    batch = [];
    batchLines = [];
    opts.onProgress?.({ records: summary.records, added: summary.added, bytesRead: position.byteOffset, totalBytes });
  };

  const parse = await parserFor(opts, input, from);
  try {
    for await (const rec of parse.records) {
      summary.records++;
      if (rec.invalidUtf8) {
        summary.invalidUtf8++;
        if (summary.invalidUtf8Lines.length < MAX_REPORTED) summary.invalidUtf8Lines.push(rec.line);
      }
      let docs: Document[];
      try {
        docs = parse.toDocuments(rec);
      } catch (e) {
        if (!(e instanceof BadRecordError)) throw e;
        bad(rec.line, e.message);
        docs = [];
      }
      for (const doc of docs) {
        for (const piece of opts.chunk ? chunkDocument(doc, opts.chunk) : [doc]) {
          batch.push(piece);
          batchLines.push(rec.line);
        }
      }
      position = { source, byteOffset: rec.end, line: rec.endLine, records: position.records + 1, done: false };
      if (batch.length >= batchSize) flush();
    }
  } catch (e) {
    if (e instanceof JsonStructureError) throw new IngestError(`${input}:${e.line}: ${e.message}`);
    throw e;
  }
  position = { ...position, byteOffset: totalBytes, done: true };
  flush();
  return finish();
}

interface Parser {
  records: AsyncIterable<RawRecord>;
  toDocuments: (rec: RawRecord) => Document[];
}

async function parserFor(opts: IngestOptions, input: string, from: ReadFrom): Promise<Parser> {
  const fields = opts.fields ?? {};
  switch (opts.format) {
    case 'jsonl':
      return { records: nonEmpty(readLines(input, from)), toDocuments: (r) => [fromJsonLine(r.text, fields)] };
    case 'tsv': {
      const header = await firstLine(input);
      if (!header) throw new IngestError(`${input}:1: empty file: expected a header line such as "id<TAB>text<TAB>title"`);
      let cols: ReturnType<typeof tsvColumns>;
      try {
        cols = tsvColumns(header.text, fields);
      } catch (e) {
        throw new IngestError(`${input}:1: ${(e as Error).message}`);
      }
      const start = from.byteOffset === 0 ? { byteOffset: header.end, line: 2 } : from;
      return { records: nonEmpty(readLines(input, start)), toDocuments: (r) => [fromTsvLine(r.text, cols)] };
    }
    case 'pubmedqa':
      return { records: readJsonMembers(input, 'object', from), toDocuments: (r) => [fromPubmedqaMember(r.text)] };
    case 'popqa':
      return { records: readJsonMembers(input, 'array', from), toDocuments: (r) => fromPopqaElement(r.text) };
  }
}

async function firstLine(path: string): Promise<RawRecord | undefined> {
  for await (const rec of readLines(path)) return rec;
  return undefined;
}

async function* nonEmpty(lines: AsyncIterable<RawRecord>): AsyncGenerator<RawRecord> {
  for await (const l of lines) if (l.text.trim() !== '') yield l;
}
