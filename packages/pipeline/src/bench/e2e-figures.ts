import { AdapterStore, type DocAdapterKey } from '@rg/adapter-store';
import type { RunRecord } from '@rg/bench-kit';
import { clusterAdapterId } from '@rg/clustering';
import { BOOTSTRAP_RESAMPLES, bootstrapMean, type Dataset, type Method, type MethodOutcome } from '@rg/inference';
import { DAPT_ADAPTER_ID, findWarmup } from '@rg/lora-trainer';
import { type Column, columnCosts, markdownTable, questionScores, retrievalHits, withIntervals } from './e2e-table.js';
import { type E2eAnswers, type E2eColumns, type E2eSettings, NO_DAPT } from './e2e-types.js';

/** What figures.json is made of: the run's flags and inputs, what the columns trained and answered, the machine record. */
export interface E2eResults {
  flags: E2eSettings;
  /** The store's (and the table's) model name, and the model as given. */
  modelName: string;
  model: string;
  dataset: Dataset;
  warmupSplit?: string;
  columns: E2eColumns;
  answers: E2eAnswers;
  run: RunRecord;
}

/**
 * The table's columns (scores with bootstrap intervals, costs from the stored adapters) and figures.json, its
 * `table` the markdown of table.md.
 */
export function e2eFigures(r: E2eResults) {
  const { flags, modelName, dataset, warmupSplit, run } = r;
  const { examples, documentIds, adapters } = r.columns;
  const { outcomes, plain } = r.answers;
  // Every method answered the same sampled questions; their per-question scores (predict.json) give the intervals.
  const scoresOf = (o: MethodOutcome | undefined) => (o ? questionScores(examples, o.predictions) : undefined);
  const bootstrap = { resamples: BOOTSTRAP_RESAMPLES, seed: flags.seed };
  const columns = withIntervals(tableColumns(r, scoresOf), bootstrap);
  const rg = columns.find((c) => c.method === 'cat_all_one')?.costs;
  const oracleScores = scoresOf(outcomes.find((o) => o.method === 'oracle'));
  const oracle = oracleScores && bootstrapMean(oracleScores, bootstrap);
  const split = dataset.split ?? 'all';
  // RAG's retrieved ids are the ones RG and RG+RAG composed (the same query, k and index).
  const rag = outcomes.find((o) => o.method === 'icl');
  const retrieval = rag && retrievalHits(examples, rag.predictions, flags.topk);
  const figures = {
    benchmark: 'e2e',
    dataset: dataset.name,
    split,
    questions: examples.length,
    seed: flags.seed,
    model: r.model,
    ...run,
    date: new Date().toISOString(),
    settings: {
      topk: flags.topk,
      generator: flags.generator,
      // Which model wrote the data, for a generator other than rg's own (never its key: that stays in the env).
      ...(flags.generator === 'openai' ? { llmModel: flags.llmModel } : {}),
      qa: flags.qa,
      phrasings: flags.phrasings ?? 1,
      rank: flags.rank,
      alpha: flags.alpha,
      lr: flags.lr,
      epochs: flags.epochs,
      examples: flags.examples,
      loss: flags.loss,
      objective: flags.objective,
      ...(flags.objective !== 'lm' ? { distillTopk: flags.distillTopk ?? null, distillWeight: flags.distillWeight ?? null } : {}),
      compose: flags.compose,
      adapterScale: flags.adapterScale ?? 1,
      dapt: flags.dapt,
      clusterK: flags.clusterK,
      representatives: flags.representatives,
      clusterTop: flags.clusterTop,
      warmup: flags.warmup
        ? {
            split: warmupSplit,
            n: flags.warmupN,
            lr: flags.warmupLr,
            epochs: flags.warmupEpochs,
            ...warmupRecord(adapters, modelName, dataset.name),
          }
        : null,
      tags: flags.tags ?? false,
    },
    documentsEncoded: rg?.adapters ?? 0,
    encodeSecondsPerDocument: rg?.encodeSecondsPerDocument ?? null,
    retrieval: retrieval ?? null,
    bytesPerAdapter: rg?.bytesPerAdapter ?? null,
    bootstrap: {
      ...bootstrap,
      level: 0.95,
      interval: 'percentile',
      differences: 'paired (the same resampled questions for both methods)',
    },
    ...(flags.warmup
      ? {
          methodsWithoutWarmup: Object.fromEntries(
            plain.map((o) => {
              const { low, high } = bootstrapMean(scoresOf(o)!, bootstrap);
              return [o.method, { [o.metrics.primaryMetric]: o.metrics.score, ...o.metrics, interval: { low, high } }];
            }),
          ),
        }
      : {}),
    methods: Object.fromEntries(
      outcomes.map((o) => {
        const { low, high } = bootstrapMean(scoresOf(o)!, bootstrap);
        const m = o.metrics;
        return [o.method, { [m.primaryMetric]: m.score, ...m, interval: { low, high }, latencyMsPerQuestion: m.meanLatencyMs }];
      }),
    ),
    columns: columns.map((c) => ({
      title: c.title,
      method: c.method,
      ...(c.k === undefined ? {} : { k: c.k }),
      ...(c.warmup ? { warmup: true } : {}),
      score: c.metrics?.score ?? null,
      interval: c.stats ? { low: c.stats.interval.low, high: c.stats.interval.high } : null,
      vsBase: c.stats?.vsBase ?? null,
      vsRag: c.stats?.vsRag ?? null,
      metrics: c.metrics ?? null,
      latencyMsPerQuestion: c.metrics?.meanLatencyMs ?? null,
      costs: c.costs ?? null,
      ...(c.why ? { why: c.why } : {}),
    })),
    table: '',
  };
  figures.table = markdownTable(modelName, columns, {
    questions: examples.length,
    split,
    documents: documentIds.length,
    representatives: flags.representatives,
    clusterTop: flags.clusterTop,
    oracle,
    retrieval,
    bootstrap,
    warmup: warmupSplit ? { split: warmupSplit, n: flags.warmupN } : undefined,
  });
  return { figures, columns };
}

/** One column per method (base and RAG also without the warm-up, DAPT n/a with --no-dapt) and per k. */
function tableColumns(r: E2eResults, scoresOf: (o: MethodOutcome | undefined) => number[] | undefined): Column[] {
  const { flags, modelName, dataset } = r;
  const { documentIds, adapters, clusterRuns } = r.columns;
  const { outcomes, plain, clusterOutcomes } = r.answers;
  const adapterStore = AdapterStore.open(adapters);
  try {
    const entries = adapterStore
      .list({ model: modelName, dataset: dataset.name, rank: flags.rank, alpha: flags.alpha, lr: flags.lr, epochs: flags.epochs })
      .filter((e) => 'id' in e.key);
    const byId = (ids: Iterable<string>) => {
      const wanted = new Set(ids);
      return entries.filter((e) => wanted.has((e.key as DocAdapterKey).id));
    };
    const outcome = new Map(outcomes.map((o) => [o.method, o]));
    const answered = (method: Method) => ({ metrics: outcome.get(method)?.metrics, scores: scoresOf(outcome.get(method)) });
    const plainOutcome = new Map(plain.map((o) => [o.method, o]));
    const answeredPlain = (method: Method) => ({
      metrics: plainOutcome.get(method)?.metrics,
      scores: scoresOf(plainOutcome.get(method)),
    });
    const n = documentIds.length;
    const perDocument = columnCosts(byId(documentIds), n);
    const table: Column[] = [
      ...(flags.warmup
        ? [
            { title: 'base', method: 'wo_param' as const, ...answeredPlain('wo_param') },
            { title: 'base + warm-up', method: 'wo_param' as const, warmup: true, ...answered('wo_param') },
          ]
        : [{ title: 'base', method: 'wo_param' as const, ...answered('wo_param') }]),
      flags.dapt
        ? { title: 'DAPT', method: 'dapt', ...answered('dapt'), costs: columnCosts(byId([DAPT_ADAPTER_ID]), n) }
        : { title: 'DAPT', method: 'dapt', why: NO_DAPT },
      ...(flags.warmup
        ? [
            { title: 'RAG', method: 'icl' as const, ...answeredPlain('icl') },
            { title: 'RAG + warm-up', method: 'icl' as const, warmup: true, ...answered('icl') },
          ]
        : [{ title: 'RAG', method: 'icl' as const, ...answered('icl') }]),
      { title: 'RG', method: 'cat_all_one', ...answered('cat_all_one'), costs: perDocument },
      { title: 'RG+RAG', method: 'combine', ...answered('combine'), costs: perDocument },
      ...clusterRuns.map(
        ({ k, why }): Column => ({
          title: `cluster k=${k}`,
          method: 'cluster',
          k,
          metrics: clusterOutcomes.get(k)?.metrics,
          scores: scoresOf(clusterOutcomes.get(k)),
          costs: why ? undefined : columnCosts(byId(Array.from({ length: k }, (_, c) => clusterAdapterId(k, c))), n),
          why,
        }),
      ),
    ];
    return table;
  } finally {
    adapterStore.close();
  }
}

/** The stored warm-up's identity and size, for figures.json. */
function warmupRecord(adapters: string, model: string, dataset: string): Record<string, unknown> {
  const store = AdapterStore.open(adapters);
  try {
    const entry = findWarmup(store, { model, dataset });
    const c = entry.trainingConfig;
    return {
      key: entry.key,
      sha256: entry.contentHash,
      pairs: Array.isArray(c.questionIds) ? c.questionIds.length : null,
      trainSeconds: c.trainSeconds ?? null,
    };
  } finally {
    store.close();
  }
}
