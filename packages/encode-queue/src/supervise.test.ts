import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { superviseWorkers, WorkerStartError } from './supervise.js';

const node = (script: string, ...args: string[]) => [process.execPath, '-e', script, ...args];
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('superviseWorkers', () => {
  it('starts count processes and resolves when they all exit 0', async () => {
    dir = mkdtempSync(join(tmpdir(), 'rg-supervise-'));
    const restarts: string[] = [];
    const script = "require('fs').appendFileSync(process.argv[1], process.pid + '\\n')";
    await superviseWorkers({ count: 3, command: node(script, join(dir, 'pids')), onRestart: (_, r) => restarts.push(r) });
    expect(readFileSync(join(dir, 'pids'), 'utf8').trim().split('\n')).toHaveLength(3);
    expect(restarts).toEqual([]);
  });

  it('starts another in place of one that fails after its start-up, and says why', async () => {
    dir = mkdtempSync(join(tmpdir(), 'rg-supervise-'));
    const marker = join(dir, 'failed-once');
    // Fails the first time (no marker yet), succeeds the second.
    const script =
      "const fs = require('fs'); if (!fs.existsSync(process.argv[1])) { fs.writeFileSync(process.argv[1], ''); process.exit(3); }";
    const restarts: string[] = [];
    await superviseWorkers({
      count: 1,
      command: node(script, marker),
      restartDelayMs: 10,
      minUptimeMs: 0,
      onRestart: (_, r) => restarts.push(r),
    });
    expect(restarts).toEqual(['exit 3']);
    expect(existsSync(marker)).toBe(true);
  });

  it('passes SIGTERM on to every process and resolves once they have ended, starting no replacement', async () => {
    dir = mkdtempSync(join(tmpdir(), 'rg-supervise-'));
    const signals = new EventEmitter();
    // Each says it is up, then exits 5 on SIGTERM: a failure exit that must not be restarted while stopping.
    const script =
      "require('fs').appendFileSync(process.argv[1], 'up\\n'); process.on('SIGTERM', () => process.exit(5)); setInterval(() => {}, 1000)";
    const ready = join(dir, 'ready');
    const restarts: string[] = [];
    const run = superviseWorkers({
      count: 2,
      command: node(script, ready),
      signals,
      restartDelayMs: 10,
      onRestart: (_, r) => restarts.push(r),
    });
    const deadline = Date.now() + 20_000;
    while (!(existsSync(ready) && readFileSync(ready, 'utf8').split('\n').length > 2) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(signals.listenerCount('SIGTERM')).toBe(1);
    signals.emit('SIGTERM');
    await run;
    expect(restarts).toEqual([]);
    expect(signals.listenerCount('SIGTERM')).toBe(0);
    expect(signals.listenerCount('SIGINT')).toBe(0);
  }, 30_000);

  it('does not restart one that fails at its start (the setup is wrong): stops the others and says which exit', async () => {
    dir = mkdtempSync(join(tmpdir(), 'rg-supervise-'));
    const marker = join(dir, 'first');
    const stopped = join(dir, 'stopped');
    // The process that creates the marker fails at once (exit 2, as rg's usage errors); the other runs until SIGTERM.
    const script = [
      "const fs = require('fs');",
      "try { fs.closeSync(fs.openSync(process.argv[1], 'wx')); process.exit(2); } catch {}",
      "process.on('SIGTERM', () => { fs.appendFileSync(process.argv[2], 'x'); process.exit(0); });",
      'setInterval(() => {}, 1000);',
    ].join(' ');
    const restarts: string[] = [];
    const run = superviseWorkers({
      count: 2,
      command: node(script, marker, stopped),
      restartDelayMs: 10,
      onRestart: (_, r) => restarts.push(r),
    });
    const e = await run.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WorkerStartError);
    expect(e).toMatchObject({ code: 2, reason: 'exit 2' });
    expect((e as Error).message).toMatch(/ended \(exit 2\) \d+\.\d s after it started; not restarted/);
    expect(restarts).toEqual([]);
    expect(readFileSync(stopped, 'utf8')).toBe('x');
  }, 30_000);
});
