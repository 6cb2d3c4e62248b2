/** The end-to-end table of `rg bench e2e`: per-question scores, bootstrap intervals, paired differences, costs, markdown and the interval chart. */
import type { ManifestEntry } from '@rg/adapter-store';
import {
  type BootstrapOptions,
  bootstrapMean,
  type Interval,
  intervalChartSvg,
  type Method,
  type Metrics,
  type Prediction,
  pairedBootstrapDifference,
} from '@rg/inference';

/** What one column of the table cost: the adapters behind it, read back from the store. */
export interface ColumnCosts {
  adapters: number;
  bytesStored: number;
  bytesPerAdapter: number | null;
  /** Training time recorded with the adapters (null when one was trained before rg recorded it). */
  trainSeconds: number | null;
  /** Documents whose knowledge the adapters hold (the filtered corpus for DAPT and clusters). */
  documents: number;
  encodeSecondsPerDocument: number | null;
}

/** A column's score with its interval, and its paired differences from the base model and from RAG. */
export interface ColumnStats {
  interval: Interval;
  /** This column minus base (absent on base itself, or when base did not run). */
  vsBase?: Interval;
  /** This column minus RAG (absent on RAG itself, or when RAG did not run). */
  vsRag?: Interval;
}

export interface Column {
  title: string;
  method: Method;
  /** Cluster columns: k. */
  k?: number;
  /**
   * Answered with the warm-up stacked (base + warm-up, RAG + warm-up): not the reference the other columns' differences
   * are taken against, which is the plain base model and the plain RAG.
   */
  warmup?: boolean;
  /** The run's scores; absent when the column could not run (see `why`). */
  metrics?: Metrics;
  /** Per-question primary-metric scores, in the order of the sampled questions (what the bootstrap resamples). */
  scores?: number[];
  stats?: ColumnStats;
  costs?: ColumnCosts;
  why?: string;
}

/** What the table's notes say about the run. */
export interface TableRun {
  questions: number;
  /** The dataset split the questions were sampled from. */
  split: string;
  documents: number;
  representatives: number;
  clusterTop: number;
  /** The warm-up adapter's split and pairs, when the run stacked one (rg bench e2e --warmup). */
  warmup?: { split: string; n: number };
  /** The oracle's score (gold documents' adapters) with its interval, when the questions name gold documents. */
  oracle?: Interval;
  bootstrap?: { resamples: number; seed: number };
  /** Where the questions' gold documents came in the retrieval (retrievalHits), when they name any. */
  retrieval?: RetrievalHits;
}

/** How often retrieval found a question's gold documents: what the RG columns can at best build on. */
export interface RetrievalHits {
  /** Documents retrieved per question. */
  k: number;
  /** Questions that name gold documents and were answered with retrieval. */
  questions: number;
  /** Of those, questions with at least one gold document among the k retrieved. */
  anyGoldInTopK: number;
  /** Questions whose first retrieved document is a gold one. */
  goldAtRank1: number;
  /** Questions with every gold document among the k. */
  allGoldInTopK: number;
}

/**
 * Retrieval against the gold documents, read from a retrieval method's predictions (their retrievedIds): the line that
 * tells a reader whether RG's distance from the oracle is retrieval (gold documents not found) or composition (found,
 * but composed with the other k - 1 documents' adapters). Undefined when no question names gold documents.
 */
export function retrievalHits(
  examples: ReadonlyArray<{ id: string; goldDocIds?: string[] }>,
  predictions: ReadonlyArray<Pick<Prediction, 'id' | 'retrievedIds'>>,
  k: number,
): RetrievalHits | undefined {
  const retrieved = new Map(predictions.map((p) => [p.id, p.retrievedIds.slice(0, k)]));
  const hits: RetrievalHits = { k, questions: 0, anyGoldInTopK: 0, goldAtRank1: 0, allGoldInTopK: 0 };
  for (const e of examples) {
    const ids = retrieved.get(e.id);
    if (!e.goldDocIds?.length || !ids) continue;
    hits.questions++;
    const gold = new Set(e.goldDocIds);
    if (ids.some((id) => gold.has(id))) hits.anyGoldInTopK++;
    if (ids.length > 0 && gold.has(ids[0])) hits.goldAtRank1++;
    if (e.goldDocIds.every((id) => ids.includes(id))) hits.allGoldInTopK++;
  }
  return hits.questions > 0 ? hits : undefined;
}

/** Adapters, bytes and the training time recorded with them (rg encode / cluster train write trainSeconds). */
export function columnCosts(entries: ManifestEntry[], documents: number): ColumnCosts {
  const bytesStored = entries.reduce((s, e) => s + e.bytes, 0);
  const times = entries.map((e) => e.trainingConfig.trainSeconds);
  const trainSeconds =
    entries.length > 0 && times.every((t) => typeof t === 'number') ? (times as number[]).reduce((s, t) => s + t, 0) : null;
  return {
    adapters: entries.length,
    bytesStored,
    bytesPerAdapter: entries.length ? Math.round(bytesStored / entries.length) : null,
    trainSeconds,
    documents,
    encodeSecondsPerDocument: trainSeconds !== null && documents > 0 ? trainSeconds / documents : null,
  };
}

/**
 * A method's per-question scores in the order of `examples`, matched by id: every column then lists the same
 * questions at the same positions, which is what pairing two methods' scores needs.
 */
export function questionScores(examples: ReadonlyArray<{ id: string }>, predictions: Prediction[]): number[] {
  const byId = new Map(predictions.map((p) => [p.id, p.score]));
  return examples.map((e) => {
    const score = byId.get(e.id);
    if (score === undefined) throw new Error(`no prediction for question ${e.id}`);
    return score;
  });
}

/** Each column with scores gets its bootstrap interval and its paired differences from base (wo_param) and RAG (icl). */
export function withIntervals(columns: Column[], options: BootstrapOptions): Column[] {
  const baseColumn = columns.find((c) => c.method === 'wo_param' && !c.warmup);
  const ragColumn = columns.find((c) => c.method === 'icl' && !c.warmup);
  const base = baseColumn?.scores;
  const rag = ragColumn?.scores;
  return columns.map((c) => {
    if (!c.scores) return c;
    const stats: ColumnStats = { interval: bootstrapMean(c.scores, options) };
    if (base && c !== baseColumn) stats.vsBase = pairedBootstrapDifference(c.scores, base, options);
    if (rag && c !== ragColumn) stats.vsRag = pairedBootstrapDifference(c.scores, rag, options);
    return { ...c, stats };
  });
}

const fixed = (v: number | null | undefined, digits: number) => (v === null || v === undefined ? 'n/a' : v.toFixed(digits));
const withInterval = (iv: Interval, sign = false) => {
  const f = (v: number) => `${sign && v >= 0 ? '+' : ''}${v.toFixed(3)}`;
  return `${f(iv.estimate)} [${f(iv.low)}, ${f(iv.high)}]`;
};

/**
 * The published table's row (model; base, DAPT, RAG, RG, RG+RAG, one cluster column per k); then per column the
 * score with its 95% interval and the paired differences from base and RAG; then one cost row per column: adapters
 * trained, bytes, encode seconds per document of the corpus, latency per question; then the notes.
 * A dataset with a closed label set (PubMedQA, ChemProt) gets macro-F1 beside accuracy: a second model row and a
 * column of the interval table, because accuracy alone rewards answering the majority label every time.
 */
export function markdownTable(model: string, columns: Column[], run: TableRun): string {
  const metricName = columns.find((c) => c.metrics)?.metrics?.primaryMetric ?? 'score';
  const withF1 = columns.some((c) => c.metrics?.macroF1 !== undefined);
  const lines = [
    `| model | ${columns.map((c) => c.title).join(' | ')} |`,
    `| --- | ${columns.map(() => '---').join(' | ')} |`,
    `| ${withF1 ? `${model} (${metricName})` : model} | ${columns.map((c) => fixed(c.metrics?.score, 3)).join(' | ')} |`,
    ...(withF1 ? [`| ${model} (macro-F1) | ${columns.map((c) => fixed(c.metrics?.macroF1, 3)).join(' | ')} |`] : []),
    '',
  ];
  if (columns.some((c) => c.stats)) {
    const diff = (c: Column, own: Method, d: Interval | undefined) =>
      c.method === own && !c.warmup ? '-' : d ? withInterval(d, true) : 'n/a';
    const f1 = (c: Column) => (withF1 ? ` ${fixed(c.metrics?.macroF1, 3)} |` : '');
    lines.push(
      `| column | ${metricName} [95% interval] |${withF1 ? ' macro-F1 |' : ''} minus base [95% interval] | minus RAG [95% interval] |`,
      `| --- | --- |${withF1 ? ' --- |' : ''} --- | --- |`,
      ...columns.map((c) => {
        const s = c.stats;
        return `| ${c.title} | ${s ? withInterval(s.interval) : 'n/a'} |${f1(c)} ${diff(c, 'wo_param', s?.vsBase)} | ${diff(c, 'icl', s?.vsRag)} |`;
      }),
      '',
    );
  }
  lines.push(
    '| column | adapters | bytes/adapter | bytes stored | encode s/doc | latency ms/question |',
    '| --- | --- | --- | --- | --- | --- |',
    ...columns.map((c) => {
      const k = c.costs;
      return `| ${c.title} | ${k ? k.adapters : '-'} | ${k?.bytesPerAdapter ?? '-'} | ${k ? k.bytesStored : '-'} | ${k ? fixed(k.encodeSecondsPerDocument, 2) : '-'} | ${fixed(c.metrics?.meanLatencyMs, 0)} |`;
    }),
    '',
  );
  const notes = [
    `${metricName} on ${run.questions} questions (split: ${run.split}).`,
    `Adapters are trained on the ${run.documents} documents the questions retrieve (and their gold documents): RG has one per document, DAPT one on all of them, each cluster column k adapters on ${run.representatives} representatives per cluster of the same documents, answering with the top ${run.clusterTop} cluster(s).`,
    'encode s/doc is training time over those documents (model loading, and for clusters embedding + k-means, not included).',
  ];
  if (run.warmup)
    notes.push(
      `Warm-up: one adapter trained on ${run.warmup.n} question -> answer pairs of the ${run.warmup.split} split (never the questions above) is stacked at weight 1 under every column but base and RAG; the document and DAPT adapters were trained on top of it (the cluster adapters on the base model). base + warm-up minus base is the answer-format effect; the adapter columns minus base + warm-up the knowledge effect.`,
    );
  if (withF1)
    notes.push(
      'macro-F1: the mean over the labels of each label’s F1, leaving out labels neither answered nor gold in these questions; it has no interval (it is not a mean of per-question scores).',
    );
  if (run.bootstrap)
    notes.push(
      `Intervals: percentile bootstrap over the ${run.questions} questions (${run.bootstrap.resamples} resamples, seed ${run.bootstrap.seed}); differences are paired (each resample takes the same questions for both methods), so a difference whose interval excludes 0 is one these questions support.`,
    );
  for (const c of columns) if (!c.metrics) notes.push(`${c.title}: n/a because ${c.why ?? 'the method did not run'}.`);
  const untimed = columns.filter((c) => c.costs && c.costs.adapters > 0 && c.costs.trainSeconds === null).map((c) => c.title);
  if (untimed.length > 0)
    notes.push(
      `encode s/doc of ${untimed.join(', ')}: n/a, some adapters were stored before rg recorded training time (use a fresh --out).`,
    );
  if (run.oracle !== undefined) notes.push(`oracle (gold documents' adapters): ${withInterval(run.oracle)}.`);
  if (run.retrieval) {
    const r = run.retrieval;
    // One decimal: 299 of 300 is not 100%.
    const share = (n: number) => `${n} of ${r.questions} (${Math.round((1000 * n) / r.questions) / 10}%)`;
    notes.push(
      `Retrieval (top ${r.k}): a gold document among them for ${share(r.anyGoldInTopK)} questions, first for ${share(r.goldAtRank1)}, every gold document among them for ${share(r.allGoldInTopK)}.`,
    );
  }
  lines.push(notes.join(' '));
  return lines.join('\n');
}

/** chart.svg: every column's score and 95% interval, a dashed line at the base model's score. */
export function columnsChart(columns: Column[], run: { model: string; dataset: string; split: string; questions: number }): string {
  const metricName = columns.find((c) => c.metrics)?.metrics?.primaryMetric ?? 'score';
  const base = columns.find((c) => c.method === 'wo_param')?.stats?.interval.estimate;
  return intervalChartSvg(
    columns.map((c) => ({ label: c.title, interval: c.stats?.interval, note: c.stats ? undefined : `n/a${c.why ? `: ${c.why}` : ''}` })),
    {
      title: `${run.model} on ${run.dataset} (${run.questions} questions, ${run.split} split): ${metricName}`,
      axisLabel: `${metricName}: dot = score, whisker = 95% bootstrap interval`,
      reference: base === undefined ? undefined : { value: base, label: 'base' },
    },
  );
}
