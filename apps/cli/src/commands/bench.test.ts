import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'rg-cli-bench-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const BUSY = () => [3.2, 2.5, 1.25];
const REFUSED =
  'rg: error: load average 3.20 at start (> 1.5): benchmarks need a quiet machine; --allow-busy to run anyway, the figures will be flagged\n';

describe('rg bench: the load guard', () => {
  it('refuses to time on a busy machine before doing any work; --allow-busy runs and flags the figures', async () => {
    const dir = join(root, 'store');
    const args = ['bench', 'store', '--count', '2', '--k', '1', '--requests', '1', '--no-peer', '--in-process', '--dir', dir, '--json'];
    const refused = await runCli(args, { loadavg: BUSY });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(REFUSED);
    expect(refused.stdout).toBe('');
    expect(existsSync(dir)).toBe(false);

    const allowed = await runCli([...args, '--allow-busy'], { loadavg: BUSY });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({
      bench: 'store',
      busy: true,
      load: { start: [3.2, 2.5, 1.25], end: [3.2, 2.5, 1.25] },
    });
  });

  it('every timing benchmark applies it', async () => {
    const input = join(root, 'ori_pqal.json');
    writeFileSync(input, '{}');
    for (const args of [
      ['bench', 'train', '--no-peer'],
      ['bench', 'generate', '--no-peer'],
      ['bench', 'retrieve', '--no-peer', '--input', input],
      ['bench', 'cluster', '--store', join(root, 'none'), '--input', input],
    ]) {
      const r = await runCli(args, { loadavg: BUSY });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toBe(REFUSED);
    }
  });
});

describe('rg bench generate --llamacpp', () => {
  it('refuses before any timing when the llama.cpp peer is not installed, naming the command that installs it', async () => {
    const r = await runCli(['bench', 'generate', '--no-peer', '--llamacpp'], { cwd: root });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--llamacpp: ${join(root, 'tools/bench/llamacpp/node_modules/node-llama-cpp')} not found`);
    expect(r.stderr).toContain('npm i --prefix tools/bench/llamacpp --ignore-scripts');
    expect(r.stdout).toBe('');
  });
});

describe('rg bench generate --batch', () => {
  it('times batches of separate requests and the batcher against one after another, with identical greedy outputs', async () => {
    const model = writeTinyModel(join(root, 'tiny-llama'));
    const args = ['--model', model, 'bench', 'generate', '--batch', '1,2', '--prompt-tokens', '8', '--new-tokens', '3'];
    const r = await runCli([...args, '--runs', '1', '--no-peer', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ bench: 'generate', mode: 'batch', busy: false });
    expect(out.batches.map((b: { batch: number }) => b.batch)).toEqual([1, 2]);
    for (const b of out.batches) expect(b.decodeTokensPerSecond).toBeGreaterThan(0);
    expect(out.concurrent).toMatchObject({ requests: 2, outputsIdentical: true });
  });
});
