import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

const PASSAGES = [
  { id: 'insulin', title: 'Insulin', text: 'Insulin is a hormone produced by the pancreas that regulates blood glucose levels.' },
  { id: 'volcano', title: 'Volcano', text: 'A volcano erupts when molten rock called magma rises through the crust to the surface.' },
  { id: 'jazz', title: 'Jazz', text: 'Jazz music originated in New Orleans and features improvisation and swing rhythms.' },
  { id: 'telescope', title: 'Telescope', text: 'Galileo improved the telescope and observed the moons of Jupiter.' },
];

describe('rg index build / retrieve --backend hnsw', () => {
  it('builds the HNSW graph beside the dense vectors and retrieves through it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cli-hnsw-'));
    const input = join(dir, 'docs.jsonl');
    writeFileSync(input, PASSAGES.map((p) => JSON.stringify(p)).join('\n'));
    const store = join(dir, 'store');
    expect((await runCli(['corpus', 'ingest', '--input', input, '--store', store, '--json'])).code).toBe(0);

    const wrong = await runCli(['index', 'build', '--store', store, '--backend', 'dense', '--hnsw-m', '8']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/--hnsw-m and --hnsw-ef-construction apply to --backend hnsw only/);

    const build = await runCli(['index', 'build', '--store', store, '--backend', 'hnsw', '--hnsw-m', '8', '--json']);
    expect(build.stderr).toBe('');
    expect(JSON.parse(build.stdout)).toMatchObject({ backend: 'hnsw', documents: 4 });
    expect(existsSync(join(store, 'index', 'dense.hnsw'))).toBe(true);

    const ret = await runCli([
      'retrieve',
      '--store',
      store,
      '--backend',
      'hnsw',
      '--ef-search',
      '20',
      '--k',
      '2',
      '--query',
      'moons of Jupiter',
      '--json',
    ]);
    expect(ret.code).toBe(0);
    const line = JSON.parse(ret.stdout);
    expect(line.docIds).toHaveLength(2);
    expect(line.docIds[0]).toBe('telescope');
    // The same vectors answer the exact dense backend, with the same cosine score for the top hit.
    const exact = JSON.parse(
      (await runCli(['retrieve', '--store', store, '--backend', 'dense', '--k', '1', '--query', 'moons of Jupiter', '--json'])).stdout,
    );
    expect(exact.docIds).toEqual(['telescope']);
    expect(exact.scores[0]).toBeCloseTo(line.scores[0], 5);

    const notHnsw = await runCli(['retrieve', '--store', store, '--backend', 'sqlite', '--ef-search', '20', '--query', 'x']);
    expect(notHnsw.code).toBe(2);
    expect(notHnsw.stderr).toMatch(/--ef-search applies to --backend hnsw only/);
  });
});
