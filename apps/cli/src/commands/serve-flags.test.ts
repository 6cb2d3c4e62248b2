import { DEFAULT_BATCH, parseServerArgs, type StartOptions } from '@rg/server';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../test-helpers.js';

// The server itself is started in serve.test.ts; here only what `rg serve` hands to it.
const started: StartOptions[] = [];
vi.mock('@rg/server', async (importOriginal) => {
  const real = await importOriginal<typeof import('@rg/server')>();
  return {
    ...real,
    startServer: vi.fn(async (options: StartOptions) => {
      started.push(options);
      return {};
    }),
    untilSignal: vi.fn(async () => 0),
  };
});

beforeEach(() => {
  started.length = 0;
});

async function serve(args: string[]): Promise<StartOptions> {
  const r = await runCli(['--model', 'some-model', '--home', '/nonexistent/rg-home', '--threads', '1', 'serve', ...args]);
  expect(r.code, r.stderr).toBe(0);
  expect(started).toHaveLength(1);
  return started[0] as StartOptions;
}

describe('rg serve --batch', () => {
  it('defaults to rg-server’s --batch, with --concurrency following it', async () => {
    const o = await serve([]);
    expect(DEFAULT_BATCH).toBe(8);
    expect(o.batch).toBe(DEFAULT_BATCH);
    expect(o.concurrency).toBe(DEFAULT_BATCH);
    // Same as rg-server with no flags, apart from what comes from rg's own settings and the say callback.
    const server = parseServerArgs([], {});
    if (server === 'help') throw new Error('unexpected help');
    const { say: _say, ...mine } = o;
    expect(mine).toEqual({ ...server, model: 'some-model', home: '/nonexistent/rg-home', threads: 1 });
  });

  it('passes --batch through, and --concurrency follows it unless given', async () => {
    expect(await serve(['--batch', '1'])).toMatchObject({ batch: 1, concurrency: 1 });
    started.length = 0;
    expect(await serve(['--batch', '3'])).toMatchObject({ batch: 3, concurrency: 3 });
    started.length = 0;
    expect(await serve(['--batch', '4', '--concurrency', '2'])).toMatchObject({ batch: 4, concurrency: 2 });
  });

  it('warms the adapters at start unless --no-warm, as rg-server', async () => {
    expect(await serve([])).toMatchObject({ warmAdapters: true });
    started.length = 0;
    expect(await serve(['--no-warm'])).toMatchObject({ warmAdapters: false });
  });

  it('refuses --batch 0 with exit 2, naming the flag', async () => {
    const r = await runCli(['serve', '--batch', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--batch');
    expect(started).toHaveLength(0);
  });

  it('lists --batch in its help', async () => {
    const r = await runCli(['serve', '--help']);
    expect(r.stdout).toMatch(/--batch <n>\s+generations decoded together/);
    expect(r.stdout).toContain(`(default: ${DEFAULT_BATCH})`);
  });
});
