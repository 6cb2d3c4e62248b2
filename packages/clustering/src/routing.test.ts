import { describe, expect, it } from 'vitest';
import { CentroidRouter, clusterAdapterId } from './router.js';
import { routeQuery } from './routing.js';

describe('routeQuery', () => {
  // Centroid 0 points the same way as the query but is short; centroid 1 is at a 45 degree angle but close in space.
  const centroids = [
    [0.1, 0],
    [1, 1],
    [-1, 0],
  ];
  const query = [2, 0];

  it('ranks by cosine by default (direction, not length)', () => {
    const r = routeQuery(centroids, query, { topC: 3 });
    expect(r.map((x) => x.cluster)).toEqual([0, 1, 2]);
    expect(r[0].score).toBeCloseTo(1, 12);
    expect(r[1].score).toBeCloseTo(Math.SQRT1_2, 12);
    expect(r[2].score).toBeCloseTo(-1, 12);
  });

  it('ranks by squared distance with the euclidean metric', () => {
    const r = routeQuery(centroids, query, { topC: 2, metric: 'euclidean' });
    // distances^2: c0 = 1.9^2 = 3.61, c1 = 1 + 1 = 2, c2 = 9
    expect(r).toEqual([
      { cluster: 1, score: 2 },
      { cluster: 0, score: expect.closeTo(3.61, 12) },
    ]);
  });

  it('returns one cluster by default and rejects bad queries', () => {
    expect(routeQuery(centroids, query)).toHaveLength(1);
    expect(() => routeQuery(centroids, [1, 2, 3])).toThrow("query vector for document 'query' has 3 dims, expected 2");
    expect(() => routeQuery(centroids, [0, 0])).toThrow('all zeros');
    expect(() => routeQuery(centroids, [Number.POSITIVE_INFINITY, 0])).toThrow('non-finite value (Infinity) at index 0');
    expect(() => routeQuery(centroids, query, { topC: 0 })).toThrow('topC must be an integer >= 1');
  });
});

describe('CentroidRouter', () => {
  it('embeds the question and returns the adapter ids of the nearest clusters', async () => {
    const asked: string[][] = [];
    const embed = async (texts: string[]) => {
      asked.push(texts);
      return texts.map(() => [0.2, 1]);
    };
    const router = new CentroidRouter(
      {
        k: 3,
        centroids: [
          [1, 0],
          [0, 1],
          [-1, 0],
        ],
      },
      embed,
    );
    expect(await router.route('what?', 2)).toEqual([clusterAdapterId(3, 1), clusterAdapterId(3, 0)]);
    expect(asked).toEqual([['what?']]);
    // Asking for more clusters than exist returns all of them.
    expect(await router.route('what?', 10)).toEqual(['cluster-k3-1', 'cluster-k3-0', 'cluster-k3-2']);
  });
});
