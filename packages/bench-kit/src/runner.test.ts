import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Flag, parseFlags } from './flags.js';
import { type BenchArgs, benchMain } from './runner.js';
import type { BenchSpec } from './spec.js';

class MissingInput extends Error {}

const FLAGS: Flag[] = [
  { name: 'count', kind: 'int', help: 'how many', default: 1 },
  { name: 'sizes', kind: 'ints', help: 'sizes', default: [2] },
  { name: 'no-peer', kind: 'switch', help: 'skip the peer' },
];

/** Runs benchMain on `argv`, returning what it printed and the exit code it set. */
async function main(argv: string[], run: (bench: string, args: BenchArgs) => Promise<Record<string, unknown>>, load = 0.2) {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => err.push(String(s)) > 0);
  process.exitCode = undefined;
  const spec = (name: string): BenchSpec => ({
    name,
    description: name,
    flags: name === 'first' ? FLAGS : FLAGS.slice(0, 2),
    usageErrors: [MissingInput],
    run: (a) => run(name, a),
  });
  try {
    await benchMain([spec('first'), spec('second')], { argv, loadavg: () => [load, load, load] });
    return { out: out.join(''), err: err.join(''), code: process.exitCode };
  } finally {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  }
}

describe('benchMain', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('parses the flags, applies the env defaults and prints the JSON the bench returns (one line with --json)', async () => {
    vi.stubEnv('RG_THREADS', '3');
    vi.stubEnv('RG_MODEL', '');
    let seen: { bench: string; count: number; sizes: number[]; threads: number; model: string } | undefined;
    const r = await main(['second', '--count', '7', '--sizes', '1,4', '--json', '--allow-busy'], async (bench, a) => {
      const run = a.start();
      seen = { bench, count: a.num('count'), sizes: a.nums('sizes') ?? [], threads: a.threads, model: a.model };
      return { bench, ...run.finish(), n: seen.count };
    });
    expect(seen).toEqual({ bench: 'second', count: 7, sizes: [1, 4], threads: 3, model: 'smollm2-135m-instruct' });
    expect(r.code).toBeUndefined();
    expect(r.out.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(r.out)).toMatchObject({ bench: 'second', n: 7, load: { start: expect.any(Array) } });
  });

  it('a bad flag, an unknown bench or a usage error of the spec exits 2 with one line naming the flag', async () => {
    const bad = await main(['--count', 'x'], async (_b, a) => ({ n: a.num('count') }));
    expect([bad.code, bad.err]).toEqual([2, 'bench first: --count: expected a positive integer, got "x"\n']);
    const foreign = await main(['second', '--no-peer'], async () => ({}));
    expect([foreign.code, foreign.err]).toEqual([2, 'bench second: --no-peer is not a flag of bench second\n']);
    const unknown = await main(['third'], async () => ({}));
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/expected one of first, second, got "third"/);
    const missing = await main([], async () => {
      throw new MissingInput('--input x.json: not found');
    });
    expect([missing.code, missing.err]).toEqual([2, 'bench first: --input x.json: not found\n']);
    expect(missing.out).toBe('');
  });

  it('refuses a busy machine without --allow-busy (exit 2), and other errors are thrown as they are', async () => {
    const busy = await main([], async (_b, a) => a.start() && {}, 3.2);
    expect(busy.code).toBe(2);
    expect(busy.err).toMatch(/load average 3.20 at start .* --allow-busy/);
    const allowed = await main(['--allow-busy'], async (_b, a) => ({ busy: a.start().finish().busy }), 3.2);
    expect([allowed.code, JSON.parse(allowed.out).busy]).toEqual([undefined, true]);
    await expect(main([], async () => Promise.reject(new TypeError('a bug')))).rejects.toThrow('a bug');
  });
});

describe('parseFlags', () => {
  const at = { cwd: '/work', root: '/repo' };
  it('converts by kind, fills defaults (a default path from the root, a given one from the working folder)', () => {
    const flags: Flag[] = [
      { name: 'n', kind: 'count', help: '', default: 0 },
      { name: 'x', kind: 'number', help: '' },
      { name: 'names', kind: 'list', help: '', default: ['a'] },
      { name: 'pick', kind: 'choice', help: '', choices: ['p', 'q'], default: 'p' },
      { name: 'data', kind: 'path', help: '', default: '../data' },
      { name: 'file', kind: 'path', help: '' },
      { name: 'fast', kind: 'switch', help: '' },
      { name: 'collection', kind: 'string', help: '', repeatable: true },
    ];
    const v = parseFlags(flags, { x: '0.5', names: 'b, c', file: 'f.json', fast: true, collection: ['one', 'two'] }, at);
    expect(Object.fromEntries(v)).toEqual({
      n: 0,
      x: 0.5,
      names: ['b', 'c'],
      pick: 'p',
      data: '/data',
      file: '/work/f.json',
      fast: true,
      collection: ['one', 'two'],
    });
    expect(parseFlags(flags, {}, at).get('collection')).toEqual([]);
  });

  it('names the flag and what it expected', () => {
    const bad = (f: Flag, raw: string) => () => parseFlags([f], { [f.name]: raw }, at);
    expect(bad({ name: 'n', kind: 'count', help: '' }, '-1')).toThrow('--n: expected a non-negative integer, got "-1"');
    expect(bad({ name: 'x', kind: 'number', help: '' }, '0')).toThrow('--x: expected a number greater than 0, got "0"');
    expect(bad({ name: 't', kind: 'nonnegative', help: '' }, '-0.1')).toThrow('--t: expected a number >= 0, got "-0.1"');
    expect(parseFlags([{ name: 't', kind: 'nonnegative', help: '' }], { t: '0' }, at).get('t')).toBe(0);
    expect(bad({ name: 'k', kind: 'ints', help: '' }, '1,0')).toThrow('--k: expected comma-separated positive integers, got "1,0"');
    expect(bad({ name: 'd', kind: 'choice', help: '', choices: ['fp32', 'fp16'] }, 'bf16')).toThrow(
      '--d: expected one of fp32, fp16, got "bf16"',
    );
    expect(() => parseFlags([{ name: 'store', kind: 'path', help: 'the store', required: true }], {}, at)).toThrow(
      '--store is required: the store',
    );
  });
});
