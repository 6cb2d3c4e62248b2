import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VectorItem } from '@rg/clustering';
import { describe, expect, it } from 'vitest';
import { clusterSummary, formatClusterSummary, formatKReports } from './cluster-reported.js';
import { type ClusterSettings, ClusterSettingsError, clusterStore } from './cluster-store.js';

/** Three well-separated groups on the axes of a 3-D space. */
function vectors(n: number, offset = 0): VectorItem[] {
  return Array.from({ length: n }, (_, i) => {
    const j = i + offset;
    const v = [0, 0, 0];
    v[j % 3] = 10 + ((j * 7) % 5) / 10;
    return { id: `doc${j}`, vector: v };
  });
}

const settings: ClusterSettings = {
  k: 3,
  seed: 0,
  representatives: 2,
  pick: 'centroid',
  maxIterations: 100,
  tolerance: 1e-6,
  refit: false,
};

describe('clusterStore', () => {
  it('fits once, then assigns only new documents to the saved centroids', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cluster-'));
    const first = await clusterStore(dir, vectors(30), settings);
    expect(first).toMatchObject({ fitted: true, added: 30 });
    expect(first.model.sizes).toEqual([10, 10, 10]);

    const again = await clusterStore(dir, vectors(30), settings);
    expect(again).toMatchObject({ fitted: false, added: 0 });
    expect(again.model.centroids).toEqual(first.model.centroids);

    const more = await clusterStore(dir, vectors(36), settings);
    expect(more).toMatchObject({ fitted: false, added: 6, removed: 0, moved: 0 });
    expect(more.model.centroids).toEqual(first.model.centroids);
    expect(more.model.sizes).toEqual([12, 12, 12]);
    // Each new document joined the group of its axis.
    for (let j = 30; j < 36; j++) expect(more.model.assignments.get(`doc${j}`)).toBe(more.model.assignments.get(`doc${j % 3}`));

    // A document deleted from the store leaves its cluster.
    const fewer = await clusterStore(dir, vectors(36).slice(1), settings);
    expect(fewer).toMatchObject({ fitted: false, added: 0, removed: 1 });
    expect(fewer.model.assignments.has('doc0')).toBe(false);
    expect(fewer.model.sizes.reduce((a, b) => a + b, 0)).toBe(35);
  });

  it('refuses other settings unless asked to refit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cluster-'));
    await clusterStore(dir, vectors(30), settings);
    const other = clusterStore(dir, vectors(30), { ...settings, k: 2, seed: 4 });
    await expect(other).rejects.toBeInstanceOf(ClusterSettingsError);
    await expect(clusterStore(dir, vectors(30), { ...settings, k: 2, seed: 4 })).rejects.toThrow(
      'was fitted with k 3 (asked 2), seed 0 (asked 4); refit',
    );
    const refit = await clusterStore(dir, vectors(30), { ...settings, k: 2, refit: true });
    expect(refit).toMatchObject({ fitted: true, added: 30 });
    expect(refit.model.k).toBe(2);
  });

  it('prints sizes, representatives and inertia', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-cluster-'));
    const { model } = await clusterStore(dir, vectors(9), settings);
    const text = formatClusterSummary(clusterSummary(model, 'x/clusters.json'));
    expect(text).toContain('9 documents in k=3 clusters');
    expect(text).toContain(`inertia ${model.inertia.toPrecision(6)}`);
    expect(text).toMatch(/\n\s+0\s+3\s+doc\d+, doc\d+\n/);
    expect(
      formatKReports([
        { k: 2, inertia: 5, silhouette: 0.5, silhouetteSampleSize: 9, iterations: 2, converged: true, minSize: 3, maxSize: 6 },
      ]),
    ).toMatch(/\n\s+2\s+5\.00000\s+0\.5000\s+3\s+6\n/);
  });
});
