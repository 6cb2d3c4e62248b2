import { InvalidArgumentError } from 'commander';

/** Commander value parsers that reject bad values with a message naming what was expected. */
export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number.parseInt(value, 10) < 1) throw new InvalidArgumentError('expected a positive integer');
  return Number.parseInt(value, 10);
}

export function nonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a non-negative integer');
  return Number.parseInt(value, 10);
}

export function finiteNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
}

export function positiveNumber(value: string): number {
  const n = finiteNumber(value);
  if (n <= 0) throw new InvalidArgumentError('expected a number greater than 0');
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
