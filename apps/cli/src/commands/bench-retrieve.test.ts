import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

const DATA = join(import.meta.dirname, '../../../../../shared/data');
// The shared datasets sit beside the project root; a user's fresh clone does not have them.
const hasData = existsSync(join(DATA, 'pubmedqa/ori_pqal.json'));
if (!hasData) console.warn(`skipping the PubMedQA command tests: ${DATA} is absent (see each dataset's SOURCE.md)`);

describe('rg bench retrieve', () => {
  it.skipIf(!hasData)('prints recall and latency for BM25 on PubMedQA PQA-L as one JSON line', async () => {
    const r = await runCli([
      'bench',
      'retrieve',
      '--backends',
      'sqlite',
      '--no-peer',
      '--json',
      '--input',
      join(DATA, 'pubmedqa/ori_pqal.json'),
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.corpus).toMatchObject({ documents: 1000, questions: 1000 });
    expect(out.backends.sqlite.recall['@3']).toBeGreaterThanOrEqual(0.9);
    expect(out.backends.sqlite.recall['@10']).toBeGreaterThanOrEqual(out.backends.sqlite.recall['@1']);
    const latency = out.backends.sqlite.latencyMs;
    expect(latency.n).toBe(1000);
    expect(latency.p99).toBeGreaterThanOrEqual(latency.p95);
    expect(latency.p95).toBeGreaterThanOrEqual(latency.p50);
    expect(out.peer).toEqual({ skipped: '--no-peer' });
  });

  it('rejects a backend that is not embedded', async () => {
    const r = await runCli(['bench', 'retrieve', '--backends', 'qdrant', '--input', join(DATA, 'pubmedqa/ori_pqal.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown embedded backend "qdrant"/);
  });
});
