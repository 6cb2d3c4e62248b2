import { resolve } from 'node:path';
import type { BenchArgs } from './runner.js';

/** A mistake in a benchmark's flags or inputs: said on stderr with exit 2, never a stack trace. */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

/**
 * What a flag's value must be: `int` an integer >= 1, `count` >= 0, `number` a number > 0, `ints` comma-separated
 * integers >= 1, `list` comma-separated names, `choice` one of `choices`, `path` a file or folder (made absolute),
 * `string` any text, `switch` no value.
 */
export type BenchFlagKind = 'int' | 'count' | 'number' | 'ints' | 'list' | 'choice' | 'string' | 'path' | 'switch';

export interface BenchFlag {
  /** As typed, without the dashes: 'prompt-tokens'. A switch that turns something off is named 'no-<thing>'. */
  name: string;
  kind: BenchFlagKind;
  help: string;
  /** Used when the flag is absent, and shown in the help. A path's default is relative to the runner's root. */
  default?: number | string | readonly number[] | readonly string[];
  choices?: readonly string[];
  required?: boolean;
  /** The value's name in the help (default by kind: <n>, <x>, <list>, <name>, <path>, <value>). */
  value?: string;
}

/**
 * One benchmark, declared once: its flags and the function that runs it. `rg bench <name>` (commander) and
 * `nx run <project>:bench <name>` (benchMain) both build their parsers from this, so the two cannot drift apart.
 */
export interface BenchSpec {
  name: string;
  description: string;
  flags: readonly BenchFlag[];
  /** Errors that are the user's inputs (a missing file, a bad dataset): exit 2 with their message. */
  usageErrors?: ReadonlyArray<abstract new (...args: never[]) => Error>;
  /** Times nothing (bytes, accuracy): no --allow-busy; the load is recorded, never refused. */
  loadFree?: boolean;
  /** Returns the JSON object to print. */
  run(args: BenchArgs): Promise<Record<string, unknown>>;
}

export type FlagValues = ReadonlyMap<string, unknown>;

const PLACEHOLDER: Record<BenchFlagKind, string> = {
  int: '<n>',
  count: '<n>',
  number: '<x>',
  ints: '<list>',
  list: '<list>',
  choice: '<name>',
  string: '<value>',
  path: '<path>',
  switch: '',
};

/** How the flag is written in a help line: `--seq <n>`, `--no-peer`. */
export function flagSyntax(f: BenchFlag): string {
  return f.kind === 'switch' ? `--${f.name}` : `--${f.name} ${f.value ?? PLACEHOLDER[f.kind]}`;
}

/** The flag's help with its choices and default, as commander shows its own. */
export function flagHelp(f: BenchFlag): string {
  const choices = f.choices ? ` (choices: ${f.choices.join(', ')})` : '';
  const fallback = f.default === undefined ? '' : ` (default: ${Array.isArray(f.default) ? f.default.join(',') : f.default})`;
  return `${f.help}${choices}${fallback}`;
}

const POSITIVE = /^\d+$/;

function parseOne(f: BenchFlag, raw: string, cwd: string): unknown {
  const fail = (expected: string): never => {
    throw new BenchUsageError(`--${f.name}: expected ${expected}, got "${raw}"`);
  };
  switch (f.kind) {
    case 'int':
      return POSITIVE.test(raw) && Number(raw) >= 1 ? Number(raw) : fail('a positive integer');
    case 'count':
      return POSITIVE.test(raw) ? Number(raw) : fail('a non-negative integer');
    case 'number': {
      const n = Number(raw);
      return raw.trim() !== '' && Number.isFinite(n) && n > 0 ? n : fail('a number greater than 0');
    }
    case 'ints': {
      const parts = raw.split(',').map((s) => s.trim());
      return parts.every((p) => POSITIVE.test(p) && Number(p) >= 1) ? parts.map(Number) : fail('comma-separated positive integers');
    }
    case 'list': {
      const parts = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      return parts.length > 0 ? parts : fail('a comma-separated list');
    }
    case 'choice':
      return f.choices?.includes(raw) ? raw : fail(`one of ${f.choices?.join(', ')}`);
    case 'path':
      return raw === '' ? fail('a path') : resolve(cwd, raw);
    case 'string':
      return raw;
    case 'switch':
      return true;
  }
}

/**
 * Checks and converts what the user gave (strings as typed; `true` for a switch given) by each flag's kind, filling
 * in defaults. Throws BenchUsageError naming the flag and what was expected.
 */
export function parseBenchFlags(
  flags: readonly BenchFlag[],
  given: Readonly<Record<string, string | boolean | undefined>>,
  at: { cwd: string; root: string },
): FlagValues {
  const values = new Map<string, unknown>();
  for (const f of flags) {
    const raw = given[f.name];
    if (f.kind === 'switch') {
      values.set(f.name, raw === true);
      continue;
    }
    if (typeof raw === 'string') {
      values.set(f.name, parseOne(f, raw, at.cwd));
      continue;
    }
    if (f.required) throw new BenchUsageError(`--${f.name} is required: ${f.help}`);
    const fallback = Array.isArray(f.default) ? [...f.default] : f.default;
    values.set(f.name, f.kind === 'path' && typeof fallback === 'string' ? resolve(at.root, fallback) : fallback);
  }
  return values;
}
