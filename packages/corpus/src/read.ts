import { createReadStream } from 'node:fs';

/** One raw record of an input file and where it sits: `end` is the byte offset to resume after it. */
export interface RawRecord {
  text: string;
  /** 1-based line where the record starts. */
  line: number;
  end: number;
  /** Line of the byte at `end`. */
  endLine: number;
  /** The bytes were not valid UTF-8: each bad sequence became U+FFFD in `text`. */
  invalidUtf8?: boolean;
}

export interface ReadFrom {
  byteOffset: number;
  /** Line number of the byte at `byteOffset` (1-based). */
  line: number;
}

const NL = 0x0a;
const CR = 0x0d;

/**
 * Lines of a file as raw records, streamed in chunks (constant memory however large the file).
 * Split on bytes rather than with readline so every record knows its exact byte offset for resuming.
 */
export async function* readLines(path: string, from: ReadFrom = { byteOffset: 0, line: 1 }): AsyncGenerator<RawRecord> {
  let pending: Buffer[] = [];
  let offset = from.byteOffset;
  let line = from.line;
  for await (const chunk of createReadStream(path, { start: from.byteOffset, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let i = chunk.indexOf(NL); i !== -1; i = chunk.indexOf(NL, start)) {
      pending.push(chunk.subarray(start, i));
      const bytes = Buffer.concat(pending);
      offset += bytes.length + 1;
      pending = [];
      start = i + 1;
      yield withUtf8Check(bytes, decodeLine(bytes), { line, end: offset, endLine: ++line });
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length > 0) {
    const bytes = Buffer.concat(pending);
    yield withUtf8Check(bytes, decodeLine(bytes), { line, end: offset + bytes.length, endLine: line });
  }
}

const REPLACEMENT_BYTES = Buffer.from('\uFFFD', 'utf8');

/** Flag a record whose U+FFFD came from bad bytes rather than from a U+FFFD written in the file. */
function withUtf8Check(bytes: Buffer, text: string, at: Omit<RawRecord, 'text'>): RawRecord {
  if (!text.includes('\uFFFD')) return { text, ...at };
  const written = countOf(bytes, REPLACEMENT_BYTES);
  const decoded = text.split('\uFFFD').length - 1;
  return decoded > written ? { text, ...at, invalidUtf8: true } : { text, ...at };
}

function countOf(haystack: Buffer, needle: Buffer): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

function decodeLine(bytes: Buffer): string {
  const n = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.length - 1 : bytes.length;
  return bytes.toString('utf8', 0, n);
}

export class JsonStructureError extends Error {
  override name = 'JsonStructureError';
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

/**
 * The members of one top-level JSON array (its elements) or object (its "key": value pairs), each
 * as its own text, streamed: memory holds one member at a time, not the whole document, so a
 * multi-GB PubMedQA- or PopQA-style file does not need to fit in memory. Object members come back as
 * `{"key": value}` texts so each parses on its own.
 *
 * Works on bytes: in UTF-8 no byte of a multi-byte character equals an ASCII bracket, quote or comma,
 * so the structure can be followed without decoding. When resuming (`from.byteOffset > 0`) the scan
 * starts inside the container, between two members.
 */
export async function* readJsonMembers(
  path: string,
  container: 'array' | 'object',
  from: ReadFrom = { byteOffset: 0, line: 1 },
): AsyncGenerator<RawRecord> {
  const open = container === 'array' ? 0x5b : 0x7b;
  const close = container === 'array' ? 0x5d : 0x7d;
  let started = from.byteOffset > 0;
  let finished = false;
  let depth = started ? 1 : 0;
  let inString = false;
  let escaped = false;
  let inMember = false;
  let memberLine = 0;
  let pieces: Buffer[] = [];
  let pieceStart = 0;
  let line = from.line;
  let offset = from.byteOffset;

  for await (const chunk of createReadStream(path, { start: from.byteOffset, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    pieceStart = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === NL) line++;
      if (finished) {
        if (!isSpace(b)) throw new JsonStructureError(`unexpected content after the top-level ${container}`, line);
        continue;
      }
      if (!started) {
        if (isSpace(b)) continue;
        if (b !== open) throw new JsonStructureError(`expected a JSON ${container} (starting with "${String.fromCharCode(open)}")`, line);
        started = true;
        depth = 1;
        continue;
      }
      if (inString) {
        if (escaped) {
          escaped = false;
          continue;
        }
        // Jump to the next quote with a native search: strings are most of the bytes.
        const q = chunk.indexOf(0x22, i);
        const stop = q === -1 ? chunk.length : q;
        let slashes = 0;
        while (stop - 1 - slashes >= i && chunk[stop - 1 - slashes] === 0x5c) slashes++;
        line += countNewlines(chunk, i + 1, stop);
        if (q === -1) escaped = slashes % 2 === 1;
        else if (slashes % 2 === 0) inString = false;
        i = stop;
        continue;
      }
      if (!inMember) {
        if (isSpace(b) || b === 0x2c) continue;
        if (b === close) {
          finished = true;
          continue;
        }
        inMember = true;
        memberLine = line;
        pieces = [];
        pieceStart = i;
      }
      if (b === 0x22) inString = true;
      else if (b === 0x7b || b === 0x5b) depth++;
      else if ((b === 0x7d || b === 0x5d) && depth > 1) depth--;
      else if (depth === 1 && (b === 0x2c || b === close)) {
        pieces.push(chunk.subarray(pieceStart, i));
        const bytes = Buffer.concat(pieces);
        const body = bytes.toString('utf8').trim();
        inMember = false;
        pieces = [];
        if (b === close) finished = true;
        yield withUtf8Check(bytes, container === 'object' ? `{${body}}` : body, { line: memberLine, end: offset + i + 1, endLine: line });
      }
    }
    if (inMember) pieces.push(chunk.subarray(pieceStart));
    offset += chunk.length;
  }
  if (!started) throw new JsonStructureError(`empty file: expected a JSON ${container}`, line);
  if (!finished) throw new JsonStructureError(`file ends inside the top-level ${container} (truncated?)`, line);
}

function countNewlines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = buf.indexOf(NL, from); i !== -1 && i < to; i = buf.indexOf(NL, i + 1)) n++;
  return n;
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === NL || b === CR || b === 0x09;
}
