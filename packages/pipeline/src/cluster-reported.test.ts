import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VectorItem } from '@rg/clustering';
import { describe, expect, it } from 'vitest';
import { clusterSummary, formatClusterSummary, formatKReports } from './cluster-reported.js';
import { type ClusterSettings, clusterStore } from './cluster-store.js';

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

describe('rg cluster summary', () => {
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
