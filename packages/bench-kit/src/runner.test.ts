import { afterEach, describe, expect, it, vi } from 'vitest';
import { type BenchArgs, benchFlags, benchMain } from './runner.js';

class MissingInput extends Error {}

/** Runs benchMain on `argv`, returning what it printed and the exit code it set. */
async function main(argv: string[], run: (bench: string, args: BenchArgs) => Promise<Record<string, unknown>>, load = 0.2) {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => err.push(String(s)) > 0);
  process.exitCode = undefined;
  try {
    await benchMain({
      benches: ['first', 'second'],
      options: benchFlags(['count', 'sizes']),
      usageErrors: [MissingInput],
      argv,
      run,
      loadavg: () => [load, load, load],
    });
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
      seen = { bench, count: a.int('count', 1), sizes: a.ints('sizes', [2]), threads: a.threads, model: a.model };
      return { bench, ...run.finish(), n: seen.count };
    });
    expect(seen).toEqual({ bench: 'second', count: 7, sizes: [1, 4], threads: 3, model: 'smollm2-135m-instruct' });
    expect(r.code).toBeUndefined();
    expect(r.out.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(r.out)).toMatchObject({ bench: 'second', n: 7, load: { start: expect.any(Array) } });
  });

  it('a bad flag, an unknown bench or a usage error of the spec exits 2 with one line naming the flag', async () => {
    const bad = await main(['--count', 'x'], async (_b, a) => ({ n: a.int('count', 1) }));
    expect([bad.code, bad.err]).toEqual([2, 'bench first: --count: expected an integer ≥ 1, got "x"\n']);
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
