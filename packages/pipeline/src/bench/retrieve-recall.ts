import { type Summary, summary } from '@rg/bench-kit';
import type { Retriever } from '@rg/retriever';

/** The k of every recall@k the retrieval benchmark reports. */
export const KS = [1, 3, 10] as const;

/** A question and the documents that answer it: a hit is any of them in the top k. */
export interface BenchQuestion {
  text: string;
  gold: string[];
}

/** Recall@k (`@1`, `@3`, `@10`: share of questions with a gold document in the top k) and per-query latency. */
export interface RecallFigures {
  recall: Record<string, number>;
  latencyMs: Summary;
}

/** Recall@k and per-query latency after a warm-up of the first `warmup` questions (not counted). */
export async function measure(r: Retriever, questions: BenchQuestion[], warmup = 20): Promise<RecallFigures> {
  for (const q of questions.slice(0, warmup)) await r.search(q.text, { k: 10 });
  const hits = new Map<number, number>(KS.map((k) => [k, 0]));
  const times: number[] = [];
  for (const q of questions) {
    const t = performance.now();
    const ids = (await r.search(q.text, { k: 10 })).map((h) => h.id);
    times.push(performance.now() - t);
    const found = q.gold.map((g) => ids.indexOf(g)).filter((i) => i !== -1);
    const rank = found.length > 0 ? Math.min(...found) : -1;
    for (const k of KS) if (rank !== -1 && rank < k) hits.set(k, (hits.get(k) ?? 0) + 1);
  }
  return {
    recall: Object.fromEntries(KS.map((k) => [`@${k}`, (hits.get(k) ?? 0) / questions.length])),
    latencyMs: summary(times),
  };
}
