import { describe, expect, it } from 'vitest';
import { assignDocuments, clusterMembers, fitClusters, reassignDocuments } from './clusters.js';
import { makeBlobs } from './test-data.js';
import { ClusteringInputError, type VectorItem } from './vectors.js';

function sq(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s;
}

/** Brute force: index of the nearest centroid, computed independently of the package. */
function nearest(centroids: number[][], v: ArrayLike<number>): number {
  const d = centroids.map((c) => sq(c, v));
  return d.indexOf(Math.min(...d));
}

describe('fitClusters', () => {
  const { items, label } = makeBlobs(5, 40, 16, { seed: 7 });

  it('recovers well-separated blobs exactly (purity 1)', async () => {
    const model = await fitClusters(items, { k: 5, seed: 3 });
    const members = clusterMembers(model);
    for (const ids of members) {
      expect(ids).toHaveLength(40);
      expect(new Set(ids.map((id) => label.get(id))).size).toBe(1);
    }
    expect(model.converged).toBe(true);
    // Inertia is the sum of squared distances to the assigned centroid.
    const inertia = items.reduce((s, it) => s + sq(model.centroids[model.assignments.get(it.id) as number], it.vector), 0);
    expect(model.inertia).toBeCloseTo(inertia, 6);
    // With sigma 0.1 in 16 dims, the expected squared distance to the blob mean is about 16 * 0.01.
    expect(model.inertia / items.length).toBeGreaterThan(0.1);
    expect(model.inertia / items.length).toBeLessThan(0.25);
  });

  it('is deterministic for a seed, whatever order the documents arrive in', async () => {
    const a = await fitClusters(items, { k: 4, seed: 11 });
    const b = await fitClusters([...items].reverse(), { k: 4, seed: 11 });
    expect(b.centroids).toEqual(a.centroids);
    expect([...b.assignments].sort()).toEqual([...a.assignments].sort());
    expect(b.representatives).toEqual(a.representatives);
  });

  it('fit on a sample + streaming assignment equals assigning every vector to the fitted centroids', async () => {
    let scans = 0;
    const scan = function* () {
      scans++;
      yield* items;
    };
    const model = await fitClusters(scan, { k: 5, seed: 1, sampleSize: 60 });
    expect(scans).toBe(2);
    expect(model.fittedOn).toBe(60);
    expect(model.assignments.size).toBe(items.length);
    for (const it of items) expect(model.assignments.get(it.id)).toBe(nearest(model.centroids, it.vector));
    expect(model.sizes.reduce((a, b) => a + b, 0)).toBe(items.length);
    const inertia = items.reduce((s, it) => s + sq(model.centroids[model.assignments.get(it.id) as number], it.vector), 0);
    expect(model.inertia).toBeCloseTo(inertia, 6);
    // A 60-point sample of 5 blobs still finds all 5.
    for (const ids of clusterMembers(model)) expect(new Set(ids.map((id) => label.get(id))).size).toBe(1);
  });

  it('centroid representatives are the m members nearest their centroid', async () => {
    const model = await fitClusters(items, { k: 5, seed: 2, representatives: 4, pick: 'centroid' });
    const byId = new Map(items.map((it) => [it.id, it.vector]));
    clusterMembers(model).forEach((ids, c) => {
      const ranked = ids.map((id) => ({ id, d: sq(model.centroids[c], byId.get(id) as ArrayLike<number>) })).sort((x, y) => x.d - y.d);
      expect(model.representatives[c].map((r) => r.id)).toEqual(ranked.slice(0, 4).map((r) => r.id));
    });
  });

  it('sample representatives are a seeded random sample of members', async () => {
    const a = await fitClusters(items, { k: 5, seed: 2, representatives: 3, pick: 'sample' });
    const b = await fitClusters([...items].reverse(), { k: 5, seed: 2, representatives: 3, pick: 'sample' });
    expect(b.representatives).toEqual(a.representatives);
    a.representatives.forEach((reps, c) => {
      expect(reps).toHaveLength(3);
      for (const r of reps) expect(a.assignments.get(r.id)).toBe(c);
    });
    // Not simply the nearest ones: across 5 clusters a random sample of 3 of 40 matching the top 3 every time is ~1e-20.
    const near = await fitClusters(items, { k: 5, seed: 2, representatives: 3, pick: 'centroid' });
    expect(a.representatives.map((r) => r.map((x) => x.id))).not.toEqual(near.representatives.map((r) => r.map((x) => x.id)));
  });

  it('adding documents assigns them to the existing clusters without moving centroids', async () => {
    const first = items.slice(0, 150);
    const later = items.slice(150);
    const model = await fitClusters(first, { k: 5, seed: 4, representatives: 3 });
    const centroids = structuredClone(model.centroids);
    const added = await assignDocuments(model, items); // the first 150 are already known and skipped
    expect(added.sort()).toEqual(later.map((it) => it.id).sort());
    expect(model.centroids).toEqual(centroids);
    for (const it of items) expect(model.assignments.get(it.id)).toBe(nearest(centroids, it.vector));
    // Representatives are those a single pass over all 200 documents would pick for these centroids.
    const byId = new Map(items.map((it) => [it.id, it.vector]));
    clusterMembers(model).forEach((ids, c) => {
      const best = ids.map((id) => ({ id, d: sq(centroids[c], byId.get(id) as ArrayLike<number>) })).sort((x, y) => x.d - y.d);
      expect(model.representatives[c].map((r) => r.id)).toEqual(best.slice(0, 3).map((r) => r.id));
    });
  });

  it('rejects bad input with messages naming the problem', async () => {
    const two: VectorItem[] = [
      { id: 'a', vector: [1, 2, 3] },
      { id: 'b', vector: [1, 2] },
    ];
    await expect(fitClusters(two, { k: 1 })).rejects.toThrow("vector for document 'b' has 2 dims, expected 3");
    await expect(fitClusters(items.slice(0, 3), { k: 4 })).rejects.toThrow('k=4 exceeds the number of vectors (3)');
    await expect(fitClusters(items, { k: 4, sampleSize: 3 })).rejects.toThrow('k=4 exceeds the fit sample size (3)');
    await expect(
      fitClusters(
        [
          { id: 'a', vector: [1, 2] },
          { id: 'n', vector: [0, Number.NaN] },
        ],
        { k: 1 },
      ),
    ).rejects.toThrow("vector for document 'n' has a non-finite value (NaN) at index 1");
    await expect(
      fitClusters(
        [
          { id: 'a', vector: [1] },
          { id: 'a', vector: [2] },
        ],
        { k: 1 },
      ),
    ).rejects.toThrow("document 'a' appears twice");
    await expect(fitClusters([], { k: 1 })).rejects.toThrow('no vectors to cluster');
    await expect(fitClusters(items, { k: 0 })).rejects.toThrow('k must be an integer >= 1, got 0');
    await expect(fitClusters(items, { k: 2.5 })).rejects.toBeInstanceOf(ClusteringInputError);
    const model = await fitClusters(items, { k: 2 });
    await expect(assignDocuments(model, [{ id: 'new', vector: [1, 2] }])).rejects.toThrow(
      "vector for document 'new' has 2 dims, expected 16",
    );
  });

  it('reassigning drops removed documents, adds new ones and matches a one-pass assignment', async () => {
    const model = await fitClusters(items.slice(0, 150), { k: 5, seed: 4, representatives: 3 });
    const centroids = structuredClone(model.centroids);
    const gone = model.representatives[0][0].id;
    const now = [...items.filter((it) => it.id !== gone)];
    const moving = now.findIndex((it) => model.assignments.get(it.id) === 1);
    const movedId = now[moving].id;
    now[moving] = { id: movedId, vector: Float32Array.from(centroids[2]) };
    const change = await reassignDocuments(model, now);
    expect(change.removed).toEqual([gone]);
    expect(change.added.sort()).toEqual(
      items
        .slice(150)
        .map((it) => it.id)
        .sort(),
    );
    expect(change.moved).toEqual([movedId]);
    expect(model.centroids).toEqual(centroids);
    expect(model.assignments.has(gone)).toBe(false);
    expect(model.representatives[0].map((r) => r.id)).not.toContain(gone);
    // The same as assigning everything in one pass to these centroids.
    const fresh = await fitClusters(now, { k: 5, seed: 4, representatives: 3 });
    fresh.centroids = centroids;
    fresh.assignments = new Map();
    await reassignDocuments(fresh, now);
    expect(model.sizes).toEqual(fresh.sizes);
    expect(model.representatives).toEqual(fresh.representatives);
    expect(model.inertia).toBeCloseTo(fresh.inertia, 9);
  });
});
