import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureModel, seededRandom } from '@rg/engine';
import { type LoraAdapter, writePeftAdapter } from '@rg/lora';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

interface FixtureCase {
  ids: number[];
  top5: { ids: number[]; logits: number[] };
  greedy: number[];
  text: string;
}
const fixturePath = new URL('../../../../packages/engine/fixtures/smollm2-reference.json', import.meta.url);
const capital = (JSON.parse(readFileSync(fixturePath, 'utf8')) as { cases: FixtureCase[] }).cases[0];

/** A rank-2 PEFT adapter on q_proj/v_proj of every layer of SmolLM2-135M (576 hidden, 192 KV). */
function randomAdapter(dir: string, outKv = 192): void {
  const rand = seededRandom(3);
  const fill = (n: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * 0.05);
  const modules: LoraAdapter['modules'] = new Map();
  for (let layer = 0; layer < 30; layer++) {
    modules.set(`${layer}.q_proj`, { inFeatures: 576, outFeatures: 576, a: fill(2 * 576), b: fill(576 * 2) });
    modules.set(`${layer}.v_proj`, { inFeatures: 576, outFeatures: outKv, a: fill(2 * 576), b: fill(outKv * 2) });
  }
  writePeftAdapter(dir, {
    config: { rank: 2, alpha: 16, targetModules: ['q_proj', 'v_proj'], baseModel: null, useRslora: false, dropout: 0 },
    modules,
  });
}

describe('rg generate / rg model logits (SmolLM2-135M, pulled on first use)', () => {
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    const path = await ensureModel();
    env = { RG_HOME: join(path, '..', '..', '..'), RG_THREADS: '2' };
  });

  it('generate --ids --json: greedy tokens equal transformers', async () => {
    const r = await runCli(['generate', '--ids', capital.ids.join(','), '--max-new-tokens', '8', '--weights', 'f32', '--json'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.promptIds).toEqual(capital.ids);
    expect(out.generatedIds).toEqual(capital.greedy.slice(0, 8));
    expect(out.finishReason).toBe('length');
  });

  it('generate decodes with q8 weights unless --weights f32 is given', async () => {
    const r = await runCli(['generate', '--ids', capital.ids.join(','), '--max-new-tokens', '2', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ weights: 'q8', generatedIds: expect.any(Array) });
  });

  it('model logits --prompt --top 5 --json: same prompt ids and top-5 as transformers', async () => {
    const r = await runCli(['model', 'logits', '--prompt', 'The capital of France is', '--top', '5', '--json'], { env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.promptIds).toEqual(capital.ids);
    expect(out.top.map((t: { id: number }) => t.id)).toEqual(capital.top5.ids);
    expect(out.top[0].token).toBe('ĠParis');
    expect(Math.abs(out.top[0].logit - capital.top5.logits[0])).toBeLessThan(1e-3 * capital.top5.logits[0]);
  });

  it('the prompt as an argument is the same as --prompt', async () => {
    const flag = await runCli(['model', 'logits', '--prompt', 'The capital of France is', '--top', '3', '--json'], { env });
    const arg = await runCli(['model', 'logits', 'The capital of France is', '--top', '3', '--json'], { env });
    expect(arg.code, arg.stderr).toBe(0);
    expect(JSON.parse(arg.stdout)).toEqual(JSON.parse(flag.stdout));
    const twice = await runCli(['generate', 'x', '--prompt', 'y'], { env });
    expect([twice.code, twice.stderr]).toEqual([2, 'rg: error: give the prompt once: as an argument or as --prompt\n']);
  });

  it('--adapter: a PEFT folder changes the logits; a misfit adapter is a usage error naming the module', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rg-adapter-')), 'good');
    randomAdapter(dir);
    const base = JSON.parse((await runCli(['model', 'logits', '--ids', capital.ids.join(','), '--top', '3', '--json'], { env })).stdout);
    const adapted = await runCli(
      ['model', 'logits', '--ids', capital.ids.join(','), '--top', '3', '--adapter', dir, '--adapter', dir, '--json'],
      { env },
    );
    expect(adapted.code).toBe(0);
    expect(JSON.parse(adapted.stdout).top[0].logit).not.toBeCloseTo(base.top[0].logit, 3);

    const wrong = join(mkdtempSync(join(tmpdir(), 'rg-adapter-')), 'misfit');
    randomAdapter(wrong, 100);
    const bad = await runCli(['generate', '--ids', '1,2', '--adapter', wrong], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`--adapter ${wrong}: layer 0 v_proj maps 576 -> 100 features, the model's v_proj maps 576 -> 192`);
  });

  it('rejects bad input with exit 2: both --prompt and --ids, ids outside the vocabulary, a missing adapter folder', async () => {
    const both = await runCli(['generate', '--prompt', 'x', '--ids', '1'], { env });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('exactly one of a prompt (argument or --prompt) or --ids');
    const big = await runCli(['model', 'logits', '--ids', '1,99999'], { env });
    expect(big.code).toBe(2);
    expect(big.stderr).toContain('token id 99999 is outside the vocabulary (0..49151)');
    const missing = await runCli(['generate', '--prompt', 'x', '--adapter', '/nonexistent/adapter'], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('/nonexistent/adapter');
  });
});
