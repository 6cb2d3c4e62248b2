import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterStore } from './store.js';

// Child processes run the compiled store (plain node cannot load .ts), built once for this file.
const PKG = fileURLToPath(new URL('..', import.meta.url));
const BUILD = join(PKG, 'node_modules', '.cache', 'rg-store-process-test');
const root = mkdtempSync(join(tmpdir(), 'rg-store-proc-'));

const WRITER = `
import { AdapterStore } from './store.js';
const [root, writer, count, shared, loop] = process.argv.slice(2);
const store = AdapterStore.open(root);
// Deterministic content per (writer, id) so the parent can tell whose version it reads.
function adapter(seed) {
  const modules = new Map();
  for (let layer = 0; layer < 2; layer++) {
    const a = Float32Array.from({ length: 2 * 16 }, (_, i) => Math.sin(seed * 31 + i + layer));
    const b = Float32Array.from({ length: 16 * 2 }, (_, i) => Math.cos(seed * 17 + i + layer));
    modules.set(layer + '.q_proj', { inFeatures: 16, outFeatures: 16, a, b });
  }
  return { config: { rank: 2, alpha: 4, targetModules: ['q_proj'], baseModel: null, useRslora: false, dropout: 0 }, modules };
}
const key = (id) => ({ model: 'm', rank: 2, alpha: 4, dataset: 'd', lr: 0.001, epochs: 1, id });
for (let i = 0; loop === '1' || i < Number(count); i++) {
  const own = writer + '-' + (i % Number(count));
  store.put(key(own), adapter(i + writer.length * 1000), { modelFingerprint: 'fp', trainingConfig: { writer } });
  if (i < Number(shared)) store.put(key('shared-' + i), adapter(i), { modelFingerprint: 'fp', trainingConfig: { writer } });
  if (i === 0) process.stdout.write('first put done\\n');
}
store.close();
`;

// tsc without type checking (the typecheck target does that): @rg/lora's types live in its dist, which a test run
// does not build.
function compile(pkg: string, outDir: string): void {
  const tsc = join(PKG, '../../node_modules/typescript/bin/tsc');
  const flags = ['--outDir', outDir, '--declaration', 'false', '--sourceMap', 'false', '--noCheck'];
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', ...flags], { cwd: pkg });
}

beforeAll(() => {
  compile(PKG, BUILD);
  // The store imports @rg/lora: give the compiled copy its own, found by Node's node_modules lookup from BUILD.
  const lora = join(BUILD, 'node_modules', '@rg', 'lora');
  compile(join(PKG, '..', 'lora'), join(lora, 'dist'));
  writeFileSync(join(lora, 'package.json'), JSON.stringify({ name: '@rg/lora', type: 'module', exports: { '.': './dist/index.js' } }));
  writeFileSync(join(BUILD, 'writer.mjs'), WRITER);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function run(args: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(BUILD, 'writer.mjs'), ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('exit', (code) => resolve(code));
  });
}

const key = (id: string) => ({ model: 'm', rank: 2, alpha: 4, dataset: 'd', lr: 0.001, epochs: 1, id });

describe('several processes writing one store', () => {
  it('two processes writing 50 adapters each (10 keys in common) lose nothing and corrupt nothing', async () => {
    const dir = join(root, 'concurrent');
    const codes = await Promise.all([run([dir, 'alpha', '50', '10', '0']), run([dir, 'beta', '50', '10', '0'])]);
    expect(codes).toEqual([0, 0]);
    const store = AdapterStore.open(dir);
    const entries = store.list();
    expect(entries).toHaveLength(110);
    for (const w of ['alpha', 'beta']) {
      for (let i = 0; i < 50; i++) expect(store.get(key(`${w}-${i}`))?.trainingConfig).toEqual({ writer: w });
    }
    for (const e of entries) expect(store.verify(e.key)).toMatchObject({ ok: true });
    expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
    store.close();
  });

  it('a writer killed mid-write leaves no partial adapter visible, and reopening cleans up', async () => {
    const dir = join(root, 'killed');
    const child = spawn(process.execPath, [join(BUILD, 'writer.mjs'), dir, 'k', '20', '5', '1'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    // Wait for its first complete put (a fixed sleep raced node's start-up on a loaded machine), let it write
    // and overwrite a while longer, then kill it wherever it is.
    const exited = new Promise((r) => child.once('exit', r));
    await Promise.race([new Promise((r) => child.stdout?.once('data', r)), exited]);
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGKILL');
    await exited;
    const store = AdapterStore.open(dir);
    const entries = store.list();
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) expect(store.verify(e.key)).toMatchObject({ ok: true });
    expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
    store.close();
  });
});
