import type { Document, Retriever, SearchHit, SearchOptions } from '../types.js';

/**
 * Reciprocal rank fusion (Cormack, Clarke & Büttcher, 2009): each list gives a document
 * 1 / (k0 + rank), rank from 1; the fused score is the sum. It needs no score calibration between
 * BM25 and cosine, which live on unrelated scales.
 */
export function reciprocalRankFusion(lists: SearchHit[][], k: number, k0 = 60): SearchHit[] {
  const fused = new Map<string, number>();
  for (const list of lists) {
    list.forEach((hit, i) => {
      fused.set(hit.id, (fused.get(hit.id) ?? 0) + 1 / (k0 + i + 1));
    });
  }
  return [...fused]
    .map(([id, score]) => ({ id, score }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
    .slice(0, k);
}

/** Hybrid retrieval: BM25 and dense lists, each `depth` long, fused by reciprocal rank. */
export class HybridRetriever implements Retriever {
  readonly backend = 'hybrid';

  constructor(
    private readonly parts: Retriever[],
    private readonly opts: { depth?: number; k0?: number } = {},
  ) {}

  private depth(k: number): number {
    return Math.max(k, this.opts.depth ?? 50);
  }

  async add(docs: Document[]): Promise<void> {
    for (const p of this.parts) await p.add(docs);
  }

  async delete(ids: string[]): Promise<void> {
    for (const p of this.parts) await p.delete(ids);
  }

  async search(query: string, opts: SearchOptions): Promise<SearchHit[]> {
    const lists = await Promise.all(this.parts.map((p) => p.search(query, { ...opts, k: this.depth(opts.k) })));
    return reciprocalRankFusion(lists, opts.k, this.opts.k0);
  }

  async searchBatch(queries: string[], opts: SearchOptions): Promise<SearchHit[][]> {
    const perPart = await Promise.all(this.parts.map((p) => p.searchBatch(queries, { ...opts, k: this.depth(opts.k) })));
    return queries.map((_, i) =>
      reciprocalRankFusion(
        perPart.map((lists) => lists[i]),
        opts.k,
        this.opts.k0,
      ),
    );
  }

  /** Documents of the first part (the parts are kept in step by add/delete). */
  async count(): Promise<number> {
    return this.parts[0].count();
  }

  async close(): Promise<void> {
    for (const p of this.parts) await p.close();
  }
}
