import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { readPeftAdapter, readSafetensors } from '@rg/lora';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

// These run the real default model (SmolLM2-135M-Instruct, pulled into RG_HOME on first use by the engine's tests).
const env = { RG_HOME: process.env.RG_HOME ?? join(process.env.HOME ?? '/root', '.cache', 'rg'), RG_THREADS: '2' };
const fixtures = new URL('../../../../packages/lora-trainer/fixtures/', import.meta.url).pathname;
const reference = JSON.parse(readFileSync(join(fixtures, 'lora-reference.json'), 'utf8')) as { ids: number[]; loss: number };
const dir = mkdtempSync(join(tmpdir(), 'rg-adapter-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rg adapter init / grad', () => {
  it('init writes a PEFT base_weight (B = 0) to the store and to --out', async () => {
    const out = join(dir, 'init');
    const store = join(dir, 'store');
    const r = await runCli(['adapter', 'init', '--rank', '2', '--alpha', '32', '--seed', '5', '--out', out, '--store', store, '--json'], {
      env,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.modules).toBe(90);
    const adapter = readPeftAdapter(out);
    expect(adapter.config).toMatchObject({ rank: 2, alpha: 32 });
    expect([...adapter.config.targetModules].sort()).toEqual(['down_proj', 'gate_proj', 'up_proj']);
    const down = adapter.modules.get('29.down_proj');
    expect(down?.a.length).toBe(2 * 1536);
    expect(Math.max(...(down?.a ?? []).map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(1536));
    expect(down?.b.every((v) => v === 0)).toBe(true);
    const s = AdapterStore.open(store);
    expect(s.load({ model: 'smollm2-135m-instruct', rank: 2, alpha: 32 }).modules.get('29.down_proj')?.a).toEqual(down?.a);
    s.close();
  });

  it('grad reproduces the PyTorch + PEFT gradient of the committed fixture', async () => {
    const out = join(dir, 'grad');
    const r = await runCli(
      ['adapter', 'grad', '--ids', reference.ids.join(','), '--init', join(fixtures, 'init-adapter'), '--out', out, '--json'],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.ids).toEqual(reference.ids);
    expect(info.loss).toBeCloseTo(reference.loss, 4);
    const expected = readSafetensors(join(fixtures, 'grads.safetensors'));
    const got = readSafetensors(join(out, 'adapter_model.safetensors'));
    expect(got.size).toBe(180);
    for (const [name, t] of expected) {
      const g = got.get(name)?.data as Float32Array;
      let dot = 0;
      let nn = 0;
      let ee = 0;
      for (let i = 0; i < t.data.length; i++) {
        dot += g[i] * t.data[i];
        nn += g[i] ** 2;
        ee += t.data[i] ** 2;
      }
      expect(dot / Math.sqrt(nn * ee), name).toBeGreaterThan(0.999);
    }
  }, 300_000);

  it('grad rejects bad input with a clear message', async () => {
    const both = await runCli(['adapter', 'grad', '--ids', '1,2', '--text', 'x', '--init', dir, '--out', join(dir, 'x')], { env });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/exactly one of --text/);
    const missing = await runCli(['adapter', 'grad', '--ids', '1,2', '--init', join(dir, 'nope'), '--out', join(dir, 'x')], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope: no such folder/);
  });
});

describe('rg encode', () => {
  it('trains one adapter per passage into the store, resumes, and logs a failing passage', async () => {
    const input = join(dir, 'aug.jsonl');
    const record = (passageId: string, qa: Array<{ question: string; answer: string }>) =>
      JSON.stringify({
        passageId,
        passage: 'Varnholm Island has one lighthouse, kept by Edda Quist since 1987.',
        rewrite: 'Since 1987 Edda Quist has kept the only lighthouse on Varnholm Island.',
        qa,
        tags: [],
        description: 'A lighthouse keeper.',
        generator: 'test',
        promptVersion: 'test',
        status: 'ok',
      });
    writeFileSync(
      input,
      `${[
        record('doc/1', [
          { question: 'Who keeps the Varnholm lighthouse?', answer: 'Edda Quist' },
          { question: 'Since when has Edda Quist kept the lighthouse?', answer: 'Since 1987' },
        ]),
        record('doc-2', [{ question: 'How many lighthouses does Varnholm Island have?', answer: 'One' }]),
      ].join('\n')}\n`,
    );
    const store = join(dir, 'encode-store');
    const args = ['encode', '--input', input, '--store', store, '--lr', '1e-3', '--max-tokens', '200', '--json'];
    const first = await runCli(args, { env });
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({ passages: 2, trained: 2, skipped: 0, failed: 0 });
    expect(summary.tokensPerSecond).toBeGreaterThan(0);
    const s = AdapterStore.open(store);
    const key = { model: 'smollm2-135m-instruct', rank: 2, alpha: 32, dataset: 'aug', lr: 1e-3, epochs: 1, id: 'doc/1' };
    const trained = s.load(key);
    expect(trained.modules.get('0.up_proj')?.b.some((v) => v !== 0)).toBe(true);
    expect(s.get(key)?.mode).toBe('trained');
    s.close();

    const again = await runCli(args, { env });
    expect(JSON.parse(again.stdout)).toMatchObject({ trained: 0, skipped: 2 });

    // A limit no example fits under: the passage fails and is named; a run in which every document failed exits 1.
    const tight = await runCli([...args.slice(0, -3), '--dataset', 'tight', '--max-tokens', '10', '--sample', '1', '--json'], { env });
    expect(tight.code).toBe(1);
    expect(tight.stderr).toContain('all 1 documents to train failed (first: doc/1: no training examples');
    expect(JSON.parse(tight.stdout)).toMatchObject({ failed: 1, failedIds: ['doc/1'] });
    expect(tight.stderr).toMatch(/FAILED doc\/1: no training examples/);
    // Three model loads and two passages of training: ~1 minute idle, much more on shared cores.
  }, 900_000);
});
