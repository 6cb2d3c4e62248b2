import { InvalidArgumentError } from 'commander';

import { valueParser } from './flags.js';

/** Commander value parsers that reject bad values with a message naming what was expected (bench-kit's flag kinds). */
const byKind = (kind: 'int' | 'count' | 'number' | 'nonnegative') => valueParser({ name: kind, kind, help: '' }) as (raw: string) => number;
export const positiveInt = byKind('int');
export const nonNegativeInt = byKind('count');
export const positiveNumber = byKind('number');
/** A number >= 0 (e.g. a temperature: 0 means greedy). */
export const nonNegativeNumber = byKind('nonnegative');

export function finiteNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
}

/** "1,2,3" -> [1,2,3] (token ids). */
export function intList(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new InvalidArgumentError('expected comma-separated non-negative integers, e.g. 1,2,3');
  return parts.map((p) => Number.parseInt(p, 10));
}

/** "a,b" -> ['a','b'] */
export function stringList(value: string): string[] {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new InvalidArgumentError('expected a comma-separated list');
  return parts;
}

/** For repeatable flags: --adapter a --adapter b */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
