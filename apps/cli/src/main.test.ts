import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './test-helpers.js';

describe('rg CLI', () => {
  it('--help lists the commands', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: rg');
    expect(r.stdout).toMatch(/demo\b/);
  });

  it('every command has --help', async () => {
    const r = await runCli(['--help']);
    const commands = [...r.stdout.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]).filter((c) => c !== 'help');
    expect(commands.length).toBeGreaterThan(0);
    for (const c of commands) {
      const h = await runCli([c, '--help']);
      expect(h.code, c).toBe(0);
      expect(h.stdout, c).toContain(`Usage: rg ${c}`);
    }
  });

  it('no arguments prints help and exits 2', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
  });

  it('an unknown command or flag is a usage error with exit code 2', async () => {
    const a = await runCli(['frobnicate']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/unknown command 'frobnicate'/);
    const b = await runCli(['demo', '--no-such-flag']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/unknown option '--no-such-flag'/);
  });

  it('a bad flag value names the flag and what was expected', async () => {
    const r = await runCli(['--threads', 'many', 'demo']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--threads/);
    expect(r.stderr).toMatch(/positive integer/);
  });

  it('a bad environment value names the variable', async () => {
    const r = await runCli(['demo'], { env: { RG_THREADS: 'x' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/RG_THREADS/);
  });

  it('a bad key in rg.config.json is named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cli-'));
    writeFileSync(join(dir, 'rg.config.json'), JSON.stringify({ thread: 4 }));
    const r = await runCli(['demo'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown key "thread"/);
  });
});
