import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';

const DEMO = resolve(import.meta.dirname, '../../demo');

// The wiring only, on a tiny random model (its scores are noise): the objective reaches rg encode and the figures.
describe('rg bench e2e --objective', () => {
  it('passes --objective distill and --distill-topk to the encode step and records them in the settings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-e2e-distill-'));
    const lines = readFileSync(join(DEMO, 'corpus.jsonl'), 'utf8').trim().split('\n').slice(0, 2);
    const ids = lines.map((l) => JSON.parse(l).id as string);
    writeFileSync(join(dir, 'corpus.jsonl'), `${lines.join('\n')}\n`);
    const questions = readFileSync(join(DEMO, 'questions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .filter((l) => ids.includes(JSON.parse(l).gold_doc_ids[0]));
    writeFileSync(join(dir, 'questions.jsonl'), `${questions.join('\n')}\n`);
    const args = ['--model', writeTinyModel(join(dir, 'tiny-llama')), 'bench', 'e2e', '--dataset', `jsonl:${join(dir, 'questions.jsonl')}`];
    args.push('--corpus', join(dir, 'corpus.jsonl'), '--sample', '1', '--topk', '1', '--cluster-k', 'none', '--no-dapt');
    args.push('--objective', 'distill', '--distill-topk', '8', '--out', join(dir, 'out'), '--json');

    const r = await runCli(args, { env: { RG_THREADS: '2' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('--objective distill --distill-topk 8');
    expect(JSON.parse(r.stdout).settings).toMatchObject({ objective: 'distill', distillTopk: 8 });
  }, 600_000);
});
