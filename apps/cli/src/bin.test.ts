import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// Issue 17: `pnpm rg` before a build printed Node's ERR_MODULE_NOT_FOUND stack.
describe('fault: bin/rg.js before a build', () => {
  it('says to run pnpm build, exit 1, no stack', () => {
    const root = mkdtempSync(join(tmpdir(), 'rg-bin-'));
    mkdirSync(join(root, 'bin'));
    copyFileSync(join(import.meta.dirname, '../bin/rg.js'), join(root, 'bin/rg.js'));
    const r = spawnSync(process.execPath, [join(root, 'bin/rg.js'), '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`rg: not built yet: ${join(root, 'dist/main.js')} is missing.`);
    expect(r.stderr).toContain('Run `pnpm build`');
    expect(r.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|\n\s+at /);
  });
});

describe('fault: rg ... | head', () => {
  it('a reader that closes the pipe early ends rg quietly (no EPIPE stack)', () => {
    const bin = join(import.meta.dirname, '../bin/rg.js');
    // `head -c 1` reads one byte and exits while rg is still writing the help of rg serve.
    const r = spawnSync(
      'bash',
      ['-c', `node ${JSON.stringify(bin)} serve --help | head -c 1 >/dev/null; echo "rg exited \${PIPESTATUS[0]}"`],
      {
        encoding: 'utf8',
      },
    );
    expect(r.stdout.trim()).toBe('rg exited 0');
    expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
  });
});

describe('bin/rg.js run as a command', () => {
  // A preload (NODE_OPTIONS --require) reports the Node process the bin ends up in, and stops it there.
  const started = (...args: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-bin-gc-'));
    const preload = join(dir, 'probe.cjs');
    writeFileSync(preload, 'process.stdout.write(JSON.stringify(process.execArgv)); process.exit(0);\n');
    const r = spawnSync(join(import.meta.dirname, '../bin/rg.js'), args, {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: `--require ${preload}` },
    });
    rmSync(dir, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as string[];
  };

  it('starts rg serve and rg bench serve with V8 collecting on the serving thread only, other commands as Node does', () => {
    expect(started('serve', '--port', '9')).toEqual(['--single-threaded-gc']);
    expect(started('--threads', '1', 'bench', 'serve')).toEqual(['--single-threaded-gc']);
    expect(started('demo')).toEqual([]);
    expect(started('--version')).toEqual([]);
  });
});
