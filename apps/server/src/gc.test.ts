import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { currentGc, SINGLE_THREADED_GC } from './gc.js';

const BIN = fileURLToPath(new URL('../bin/rg-server.js', import.meta.url));

describe('currentGc', () => {
  it('reads the flag the process was started with', () => {
    expect(currentGc([SINGLE_THREADED_GC])).toBe('single-threaded');
    expect(currentGc(['--max-old-space-size=4096'])).toBe('parallel');
  });
});

describe('bin/rg-server.js', () => {
  // A preload (NODE_OPTIONS --require) reports the Node process the bin ends up in, and stops it before the server.
  const probe = (run: (preload: string) => { command: string; args: string[] }) => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-server-bin-'));
    const preload = join(dir, 'probe.cjs');
    writeFileSync(preload, 'process.stdout.write(JSON.stringify({ pid: process.pid, execArgv: process.execArgv })); process.exit(0);\n');
    const { command, args } = run(preload);
    const child = spawn(command, args, {
      env: { ...process.env, NODE_OPTIONS: `--require ${preload}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    return new Promise<{ spawnedPid: number | undefined; pid: number; execArgv: string[] }>((resolve, reject) => {
      child.on('exit', (code) => {
        rmSync(dir, { recursive: true, force: true });
        if (code !== 0) reject(new Error(`exit ${code}: ${err}`));
        else resolve({ spawnedPid: child.pid, ...JSON.parse(out) });
      });
    });
  };

  it('run as a command, is Node with --single-threaded-gc in the same process (exec: signals and kill -9 reach it)', async () => {
    const r = await probe(() => ({ command: BIN, args: ['--help'] }));
    expect(r.execArgv).toContain(SINGLE_THREADED_GC);
    expect(r.pid).toBe(r.spawnedPid);
  });

  it('run with node, keeps the flags the caller gave', async () => {
    const r = await probe(() => ({ command: process.execPath, args: [BIN, '--help'] }));
    expect(r.execArgv).not.toContain(SINGLE_THREADED_GC);
  });
});
