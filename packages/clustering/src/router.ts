import type { ClusterModel } from './clusters.js';
import { type RouteOptions, routeQuery } from './routing.js';

/**
 * The adapter id of a cluster: one adapter per cluster in the adapter store. k is part of the id so clusterings with
 * different k can share a dataset folder.
 */
export function clusterAdapterId(k: number, cluster: number): string {
  return `cluster-k${k}-${cluster}`;
}

/** Texts to query vectors: the same sentence encoder that embedded the documents. */
export type EmbedQueries = (texts: string[]) => Promise<ArrayLike<number>[]>;

/**
 * Question -> adapter ids of the nearest clusters. Has the shape of @rg/inference's ClusterRouter, so the
 * `cluster` method can use it as is.
 */
export class CentroidRouter {
  constructor(
    private readonly model: Pick<ClusterModel, 'k' | 'centroids'>,
    private readonly embed: EmbedQueries,
    private readonly metric: RouteOptions['metric'] = 'cosine',
  ) {}

  async route(question: string, topC: number): Promise<string[]> {
    const [vector] = await this.embed([question]);
    return routeQuery(this.model.centroids, vector, { topC: Math.min(topC, this.model.k), metric: this.metric }).map((r) =>
      clusterAdapterId(this.model.k, r.cluster),
    );
  }
}
