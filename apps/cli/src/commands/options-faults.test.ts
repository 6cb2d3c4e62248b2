import { describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

// Issue 17: a misspelled flag was reported as a missing required one.
describe('fault: misspelled flags', () => {
  it('names the unknown flag (with a suggestion), not the required one it was meant to be', async () => {
    const r = await runCli(['corpus', 'ingest', '--inptu', 'x.jsonl', '--store', '/nonexistent/s']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: unknown option '--inptu'");
    expect(r.stderr).toContain('--input');
    expect(r.stderr).not.toContain('required option');
  });

  it('a required option that is really missing is still reported as such (exit 2), for subcommands too', async () => {
    const r = await runCli(['corpus', 'ingest', '--store', '/nonexistent/s']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: required option '--input <file>' not specified");
    const f = await runCli(['index', 'build']);
    expect(f.code).toBe(2);
    expect(f.stderr).toContain("error: required option '--store <dir>' not specified");
  });
});
