import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorpusStore } from '@rg/corpus';
import { MINILM } from '@rg/engine';
import { EmbeddingCache } from '@rg/pipeline';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

// Issue 17 case 5: `cluster --refit` that failed on Qdrant had already rewritten clusters.json.
describe('fault: rg cluster --refit with an unreachable vector backend', () => {
  it('keeps the saved clusters.json when writing the cluster ids fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cluster-faults-'));
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, `${Array.from({ length: 12 }, (_, i) => JSON.stringify({ id: `d${i}`, text: `document ${i}` })).join('\n')}\n`);
    const store = join(dir, 's');
    expect((await runCli(['corpus', 'ingest', '--input', input, '--store', store])).code).toBe(0);
    // Vectors put in the cache directly (two clear groups), so no encoder has to load.
    const corpus = CorpusStore.open(store);
    await EmbeddingCache.open(corpus, MINILM.name).fill(
      {
        dim: 4,
        embed: async (texts) =>
          texts.map((t) => {
            const n = Number(t.match(/\d+/)?.[0]);
            return Float32Array.from([n % 2 ? 1 : -1, n / 100, 0.5, 0.25]);
          }),
      },
      { batchSize: 8 },
    );
    corpus.close();
    const fit = await runCli(['cluster', '--store', store, '--k', '2', '--backend', 'embedded']);
    expect(fit.code).toBe(0);
    const saved = readFileSync(join(store, 'clusters.json'), 'utf8');

    const tcp = createServer();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(tcp.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    const refit = await runCli(['cluster', '--store', store, '--k', '3', '--refit', '--backend', 'qdrant'], {
      env: { RG_QDRANT_URL: url },
    });
    expect(refit.code).toBe(1);
    expect(refit.stderr).toMatch(/qdrant at .* \(RG_QDRANT_URL\): .*ECONNREFUSED/);
    expect(readFileSync(join(store, 'clusters.json'), 'utf8')).toBe(saved);
    expect(JSON.parse(saved).k).toBe(2);
  });
});
