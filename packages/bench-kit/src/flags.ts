import { resolve } from 'node:path';

/** A flag given a value it does not take: the message names the flag and what it expected. */
export class FlagError extends Error {
  override name = 'FlagError';
  constructor(
    message: string,
    /** What the value should have been ("a positive integer"), for a runner that names the flag itself. */
    readonly expected?: string,
  ) {
    super(message);
  }
}

/**
 * What a flag's value must be: `int` an integer >= 1, `count` >= 0, `number` a number > 0, `nonnegative` a number
 * >= 0 (a temperature: 0 is greedy), `ints` comma-separated
 * integers >= 1, `list` comma-separated names, `choice` one of `choices`, `path` a file or folder (made absolute),
 * `string` any text, `switch` no value.
 */
export type FlagKind = 'int' | 'count' | 'number' | 'nonnegative' | 'ints' | 'list' | 'choice' | 'string' | 'path' | 'switch';

export interface Flag {
  /** As typed, without the dashes: 'prompt-tokens'. A switch that turns something off is named 'no-<thing>'. */
  name: string;
  kind: FlagKind;
  help: string;
  /** Used when the flag is absent, and shown in the help. A path's default is relative to the runner's root. */
  default?: number | string | readonly number[] | readonly string[];
  choices?: readonly string[];
  required?: boolean;
  /** The value's name in the help (default by kind: <n>, <x>, <list>, <name>, <path>, <value>). */
  value?: string;
  /** May be given more than once: its value is the list of what was given (default none). */
  repeatable?: boolean;
}

export type FlagValues = ReadonlyMap<string, unknown>;

const PLACEHOLDER: Record<FlagKind, string> = {
  int: '<n>',
  count: '<n>',
  number: '<x>',
  nonnegative: '<x>',
  ints: '<list>',
  list: '<list>',
  choice: '<name>',
  string: '<value>',
  path: '<path>',
  switch: '',
};

/** How the flag is written in a help line: `--seq <n>`, `--no-peer`. */
export function flagSyntax(f: Flag): string {
  return f.kind === 'switch' ? `--${f.name}` : `--${f.name} ${f.value ?? PLACEHOLDER[f.kind]}`;
}

/** The flag's help with its choices and (unless `withDefault` is false) its default, as commander shows its own. */
export function flagHelp(f: Flag, withDefault = true): string {
  const choices = f.choices ? ` (choices: ${f.choices.join(', ')})` : '';
  const fallback =
    f.default === undefined || !withDefault ? '' : ` (default: ${Array.isArray(f.default) ? f.default.join(',') : f.default})`;
  return `${f.help}${choices}${fallback}`;
}

const POSITIVE = /^\d+$/;

function parseOne(f: Flag, raw: string, cwd: string): unknown {
  const fail = (expected: string): never => {
    throw new FlagError(`--${f.name}: expected ${expected}, got "${raw}"`, expected);
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
    case 'nonnegative': {
      const n = Number(raw);
      return raw.trim() !== '' && Number.isFinite(n) && n >= 0 ? n : fail('a number >= 0');
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
 * in defaults. Throws FlagError naming the flag and what was expected.
 */
export function parseFlags(
  flags: readonly Flag[],
  given: Readonly<Record<string, string | string[] | boolean | undefined>>,
  at: { cwd: string; root: string },
): FlagValues {
  const values = new Map<string, unknown>();
  for (const f of flags) {
    const raw = given[f.name];
    if (f.kind === 'switch') {
      values.set(f.name, raw === true);
      continue;
    }
    if (f.repeatable) {
      values.set(
        f.name,
        (Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : []).map((r) => parseOne(f, r, at.cwd)),
      );
      continue;
    }
    if (typeof raw === 'string') {
      values.set(f.name, parseOne(f, raw, at.cwd));
      continue;
    }
    if (f.required) throw new FlagError(`--${f.name} is required: ${f.help}`);
    const fallback = Array.isArray(f.default) ? [...f.default] : f.default;
    values.set(f.name, f.kind === 'path' && typeof fallback === 'string' ? resolve(at.root, fallback) : fallback);
  }
  return values;
}

/** The options of node:util parseArgs for these flags (values kept as typed, for parseFlags). */
export function parseArgsOptions(flags: readonly Flag[]): Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> {
  return Object.fromEntries(
    flags.map((f) => [
      f.name,
      f.kind === 'switch' ? { type: 'boolean' as const } : { type: 'string' as const, multiple: f.repeatable ?? false },
    ]),
  );
}

/** Help lines for these flags: the syntax, padded, then the help. */
export function flagsUsage(flags: readonly Flag[]): string {
  const width = Math.max(...flags.map((f) => flagSyntax(f).length));
  return flags.map((f) => `  ${flagSyntax(f).padEnd(width)}  ${flagHelp(f)}`).join('\n');
}

const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Parsed values by camelCase name, as an options object: `--distill-topk` -> distillTopk, `--no-dapt` -> dapt: false. */
export function flagOptions(values: FlagValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of values) {
    if (name.startsWith('no-') && typeof value === 'boolean') out[camel(name.slice(3))] = !value;
    else out[camel(name)] = value;
  }
  return out;
}
