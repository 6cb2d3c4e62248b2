import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterStore } from '@rg/pipeline';
import { describe, expect, it } from 'vitest';
import { runCli } from '../test-helpers.js';

describe('rg cluster show', () => {
  it('prints the saved clusters as JSON and as a table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cluster-cli-'));
    const vectors = Array.from({ length: 8 }, (_, i) => ({ id: `d${i}`, vector: [i % 2 ? 5 : -5, i / 10] }));
    const run = await clusterStore(dir, vectors, {
      k: 2,
      seed: 0,
      representatives: 1,
      pick: 'centroid',
      maxIterations: 100,
      tolerance: 1e-6,
      refit: false,
    });
    const r = await runCli(['cluster', 'show', '--store', dir, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ k: 2, documents: 8, inertia: run.model.inertia, seed: 0 });
    expect(out.clusters.map((c: { size: number }) => c.size)).toEqual([4, 4]);
    expect(out.clusters[0].representatives).toEqual([run.model.representatives[0][0].id]);
    const table = await runCli(['cluster', 'show', '--store', dir]);
    expect(table.stdout).toContain('8 documents in k=2 clusters');
  });

  it('explains a missing or broken clusters file (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cluster-cli-'));
    const missing = await runCli(['cluster', 'show', '--store', dir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`${join(dir, 'clusters.json')} does not exist`);
    writeFileSync(join(dir, 'clusters.json'), '{"format":"rg-clusters","version":1,"k":"three"}');
    const broken = await runCli(['cluster', 'show', '--store', dir]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain("field 'k' is invalid, expected an integer >= 1");
  });
});

describe('rg cluster flags', () => {
  it('rejects bad combinations and values with exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cluster-cli-'));
    const both = await runCli(['cluster', '--store', dir, '--k', '3', '--k-range', '2,3']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give exactly one of --k K or --k-range LIST');
    const noStore = await runCli(['cluster', '--k', '3']);
    expect(noStore.stderr).toContain('--store DIR is required');
    const badRange = await runCli(['cluster', '--store', dir, '--k-range', '2,x']);
    expect(badRange.code).toBe(2);
    expect(badRange.stderr).toContain('expected comma-separated positive integers');
    const badPick = await runCli(['cluster', '--store', dir, '--k', '2', '--pick', 'nearest']);
    expect(badPick.code).toBe(2);
    expect(badPick.stderr).toContain('Allowed choices are centroid, sample');
    const noQdrant = await runCli(['cluster', '--store', dir, '--k', '2', '--backend', 'qdrant']);
    expect(noQdrant.code).toBe(2);
    expect(noQdrant.stderr).toContain('--backend qdrant needs a server: set RG_QDRANT_URL');
    const noCorpus = await runCli(['cluster', '--store', dir, '--k', '2']);
    expect(noCorpus.code).toBe(2);
    expect(noCorpus.stderr).toContain('no document store there');
  });
});
