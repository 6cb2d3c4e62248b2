import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
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
