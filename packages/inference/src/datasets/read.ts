import { readFileSync } from 'node:fs';
import { DatasetError } from './errors.js';

export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new DatasetError(file, `cannot read: ${(e as Error).message}`);
  }
}

export function readJson(file: string): unknown {
  const text = readText(file);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DatasetError(file, `not valid JSON: ${(e as Error).message}`);
  }
}

/** Parsed JSON Lines with 1-based line numbers; blank lines are skipped. */
export function* readJsonLines(file: string): Generator<{ line: number; value: unknown }> {
  const lines = readText(file).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new DatasetError(file, `not valid JSON: ${(e as Error).message}`, { line: i + 1 });
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new DatasetError(file, 'expected a JSON object', { line: i + 1 });
    }
    yield { line: i + 1, value };
  }
}

type Where = { line?: number; field?: string };

/**
 * Field checkers that throw a DatasetError naming the file, line and field; `at` prefixes the field's name
 * with the record's position (e.g. "[3]" or a PMID) in files that are not line-oriented.
 */
export function field(file: string, obj: Record<string, unknown>, name: string, line?: number, at?: string) {
  const where: Where = { line, field: at ? `${at}.${name}` : name };
  const value = obj[name];
  return {
    present: value !== undefined && value !== null,
    string(): string {
      if (typeof value !== 'string' || value.trim() === '')
        throw new DatasetError(file, `expected a non-empty string, got ${describe(value)}`, where);
      return value;
    },
    optionalString(): string | undefined {
      if (value === undefined || value === null) return undefined;
      if (typeof value !== 'string') throw new DatasetError(file, `expected a string, got ${describe(value)}`, where);
      return value;
    },
    /** A string or a number (ids are often numbers in JSON), returned as a string. */
    id(): string {
      if (typeof value === 'number' && Number.isFinite(value)) return String(value);
      if (typeof value === 'string' && value !== '') return value;
      throw new DatasetError(file, `expected a string or number id, got ${describe(value)}`, where);
    },
    stringArray(opts: { nonEmpty?: boolean } = {}): string[] {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
        throw new DatasetError(file, `expected an array of strings, got ${describe(value)}`, where);
      }
      if (opts.nonEmpty && value.length === 0) throw new DatasetError(file, 'expected at least one entry', where);
      return value as string[];
    },
    object(): Record<string, unknown> {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new DatasetError(file, `expected an object, got ${describe(value)}`, where);
      }
      return value as Record<string, unknown>;
    },
  };
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  return `a ${typeof value}`;
}
