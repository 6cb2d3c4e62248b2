import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorpusStore } from '@rg/corpus';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

const HOME = process.env.RG_HOME || join(homedir(), '.cache', 'rg');

describe('rg bench cluster', () => {
  it('reports routing against the gold abstract per k, without touching the saved clusters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-bench-cluster-'));
    const docs: Record<string, [string, string]> = {
      '1': ['Does aspirin prevent heart attacks?', 'Aspirin reduced myocardial infarction in patients with coronary disease.'],
      '2': ['Do statins lower cholesterol?', 'Statins lowered LDL cholesterol and cardiovascular events.'],
      '3': ['Is Europa covered by ice?', 'Images of Jupiter’s moon Europa show a surface of water ice.'],
      '4': ['Do supernovae make heavy elements?', 'Exploding massive stars forge heavy elements such as gold.'],
    };
    const store = CorpusStore.open(join(dir, 'store'));
    store.add(Object.entries(docs).map(([id, [, text]]) => ({ id, text })));
    store.close();
    const input = join(dir, 'ori_pqal.json');
    writeFileSync(
      input,
      JSON.stringify(
        Object.fromEntries(Object.entries(docs).map(([id, [q, text]]) => [id, { QUESTION: q, CONTEXTS: [text], final_decision: 'yes' }])),
      ),
    );
    const r = await runCli(
      ['bench', 'cluster', '--store', join(dir, 'store'), '--input', input, '--k-values', '2', '--top-c', '1,2', '--json'],
      {
        env: { RG_HOME: HOME },
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ bench: 'cluster', busy: false, load: { start: [0, 0, 0] }, machine: { threads: expect.any(Number) } });
    expect(out.corpus).toMatchObject({ documents: 4, questions: 4 });
    expect(out.encoder.documentsEmbeddedNow).toBe(4);
    expect(out.results).toHaveLength(1);
    // With two clusters (heart, space) every question routes to its abstract's cluster; top-2 covers everything.
    expect(out.results[0]).toMatchObject({ k: 2, routing: { top1: 1, top2: 1 }, chance: { top1: 0.5, top2: 1 } });
    expect(existsSync(join(dir, 'store', 'clusters.json'))).toBe(false);
  }, 300_000);
});
