import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AdapterStore, type DocAdapterKey } from '@rg/adapter-store';
import { GENERATORS } from '@rg/augment';
import { clusterAdapterId } from '@rg/clustering';
import { loadModelConfig, modelKeyName } from '@rg/engine';
import {
  BOOTSTRAP_RESAMPLES,
  bootstrapMean,
  DatasetError,
  loadDataset,
  type Method,
  type MethodOutcome,
  writeFileAtomic,
} from '@rg/inference';
import { DAPT_ADAPTER_ID, findWarmup } from '@rg/lora-trainer';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import type { InferSettings } from '../infer/pipeline.js';
import { composeOption, inferWithProgress, stepCounter } from '../infer/steps.js';
import { nonNegativeInt, positiveInt, positiveNumber } from '../parse.js';
import { examplesOption, lossOption, objectiveOption } from '../train/run.js';
import { defaultWarmupSplit } from './adapter-warmup.js';
import { benchCommand, benchRun } from './bench.js';
import { corpusInput } from './bench-e2e-corpus.js';
import { type E2eFlags, NO_DAPT, trainColumns } from './bench-e2e-steps.js';
import { type Column, columnCosts, columnsChart, markdownTable, questionScores, withIntervals } from './bench-e2e-table.js';
import { fileSize } from './corpus.js';

/** `--cluster-k`: distinct positive k values, or `none`. */
export function clusterKList(value: string): number[] {
  if (value.trim() === 'none') return [];
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p) || Number.parseInt(p, 10) < 1)) {
    throw new InvalidArgumentError('expected comma-separated positive integers, e.g. 10,50,100, or none');
  }
  return [...new Set(parts.map((p) => Number.parseInt(p, 10)))];
}

export function registerBenchE2e(program: Command, ctx: CliContext): void {
  benchCommand(program)
    .command('e2e')
    .description(
      'ingest -> augment -> encode (per document, DAPT, clusters) -> infer for every method on the same sampled questions; a markdown table plus costs; resumable',
    )
    .requiredOption('--dataset <name>', 'pubmedqa | popqa | chemprot | jsonl:QUESTIONS.jsonl')
    .option(
      '--corpus <file>',
      'corpus JSON Lines ({id, title?, text}); required with jsonl:, default: the dataset’s own documents (ChemProt: its train sentences, marks removed)',
    )
    .option('--data-dir <dir>', 'folder holding pubmedqa/, popqa/ and chemprot/', '../shared/data')
    .addOption(
      new Option(
        '--split <split>',
        'questions the sample is drawn from: dev (choose recipes), test (report), all; default: the dataset’s default (PubMedQA test, PopQA all, ChemProt test, jsonl all)',
      ).choices(['dev', 'test', 'all']),
    )
    .requiredOption('--sample <n>', 'questions (a seeded sample of the split)', positiveInt)
    .option('--seed <n>', 'seed of the sample, of training and of k-means', nonNegativeInt, 0)
    .option('--topk <k>', 'documents retrieved per question', positiveInt, 3)
    .addOption(new Option('--generator <name>', 'augmentation generator (rg augment --generator)').choices(GENERATORS).default('template'))
    .option('--qa <n>', 'QA pairs per document', positiveInt, 3)
    .option('--phrasings <p>', 'template generator: wordings per passage (rg augment --phrasings)', positiveInt)
    .option('--rank <r>', 'LoRA rank', positiveInt, 2)
    .option('--alpha <a>', 'LoRA alpha', positiveNumber, 32)
    .option('--lr <lr>', 'learning rate', positiveNumber, 3e-4)
    .option('--epochs <n>', 'epochs', positiveInt, 1)
    .addOption(examplesOption())
    .addOption(lossOption())
    .addOption(objectiveOption())
    .option('--distill-topk <k>', 'rg encode --distill-topk', positiveInt)
    .option('--distill-weight <w>', 'rg encode --distill-weight', positiveNumber)
    .addOption(composeOption())
    .option('--no-dapt', 'leave out the DAPT column (its encode costs as much as every document’s adapter together)')
    .option(
      '--warmup',
      'train the warm-up adapter on the dataset’s non-test questions (minus the sample when it is the same split), train document and DAPT adapters on top of it and stack it under every method; adds base + warm-up and RAG + warm-up columns',
    )
    .option('--warmup-n <n>', 'question -> answer pairs of the warm-up', positiveInt, 600)
    .option('--warmup-lr <lr>', 'learning rate of the warm-up', positiveNumber, 3e-4)
    .option('--warmup-epochs <n>', 'epochs of the warm-up', positiveInt, 1)
    .option('--cluster-k <list>', 'one cluster column per k (comma-separated; none: no cluster column)', clusterKList, [10])
    .option('--representatives <m>', 'documents per cluster its adapter is trained on', positiveInt, 3)
    .option('--cluster-top <c>', 'clusters whose adapters answer a question', positiveInt, 1)
    .option(
      '--tags',
      'index the template augmenter’s tags and description of every corpus document with it (the index is built before documents are chosen, so the cheap generator); answers go to output-tags/',
    )
    .option('--out <dir>', 'folder for everything the benchmark writes', 'bench-e2e')
    .option('--json', 'print the figures as one JSON line')
    .action(async (flags: E2eFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      // The commit is recorded at start (a run takes hours and HEAD may move meanwhile). Accuracy does not depend on
      // the load, so e2e never refuses a busy machine; it records the load, which the cost columns (timings) depend on.
      const run = benchRun(ctx, { threads: config.threads, allowBusy: true });
      const out = resolve(ctx.io.cwd, flags.out);
      const dataDir = resolve(ctx.io.cwd, flags.dataDir);
      const spec = flags.dataset.startsWith('jsonl:') ? `jsonl:${resolve(ctx.io.cwd, flags.dataset.slice(6))}` : flags.dataset;
      let dataset: ReturnType<typeof loadDataset>;
      try {
        dataset = loadDataset(spec, { dataDir, split: flags.split });
      } catch (e) {
        throw e instanceof DatasetError ? new UsageError(e.message) : e;
      }
      const warmupSplit = flags.warmup ? checkWarmupSplit(spec, dataset.split) : undefined;
      const ingest = corpusInput(flags, dataset.name, dataDir, ctx.io.cwd, out);
      fileSize(ingest.file, flags.corpus ? '--corpus' : '--data-dir');
      mkdirSync(out, { recursive: true });
      const steps = stepCounter(ctx, 7 + 4 * flags.clusterK.length + (flags.warmup ? 1 : 0) + (flags.tags ? 1 : 0));

      const { corpus, examples, documentIds, adapters, clusterRuns } = await trainColumns(ctx, config, flags, steps, {
        out,
        dataDir,
        spec,
        dataset,
        warmupSplit,
        ingest,
      });

      const methods: Method[] = ['wo_param', 'icl', 'cat_all_one', 'combine', ...(flags.dapt ? (['dapt'] as const) : [])];
      if (examples.every((e) => e.goldDocIds?.length)) methods.push('oracle');
      steps.announce(`answer ${examples.length} questions with ${methods.join(', ')}`);
      const settings: InferSettings = {
        model: config.model,
        home: config.home,
        threads: config.threads,
        dataset: { ...dataset, examples },
        methods,
        store: corpus,
        backend: 'sqlite',
        adapters,
        rank: flags.rank,
        alpha: flags.alpha,
        lr: flags.lr,
        epochs: flags.epochs,
        topk: flags.topk,
        compose: flags.compose,
        maxNewTokens: 32,
        seed: flags.seed,
        warmup: flags.warmup,
        // Apart from the untagged run's answers: a run resumes by its config, which does not name the index.
        out: join(out, flags.tags ? 'output-tags' : 'output'),
      };
      const outcomes = await inferWithProgress(ctx, settings, flags.json);
      // With the warm-up, base and RAG are also answered without it: the references the other columns are measured against.
      const plain = flags.warmup
        ? await inferWithProgress(
            ctx,
            { ...settings, methods: ['wo_param', 'icl'], warmup: false, out: join(settings.out, 'no-warmup') },
            flags.json,
          )
        : [];
      const clusterOutcomes = new Map<number, MethodOutcome>();
      for (const run of clusterRuns) {
        if (run.why) continue;
        steps.announce(`answer ${examples.length} questions with cluster k=${run.k} (top ${flags.clusterTop})`);
        // The k's own store routes the questions; its run folder is apart from the other k's.
        const [o] = await inferWithProgress(
          ctx,
          { ...settings, methods: ['cluster'], store: run.store, topk: flags.clusterTop, out: join(out, 'output', `cluster-k=${run.k}`) },
          flags.json,
        );
        clusterOutcomes.set(run.k, o);
      }

      // The store's (and the table's) model name: the model's known name, or its file or folder name.
      const modelName = modelKeyName((await loadModelConfig(config.model, { home: config.home })).source);
      const adapterStore = AdapterStore.open(adapters);
      // Every method answered the same sampled questions; their per-question scores (predict.json) give the intervals.
      const scoresOf = (o: MethodOutcome | undefined) => (o ? questionScores(examples, o.predictions) : undefined);
      const bootstrap = { resamples: BOOTSTRAP_RESAMPLES, seed: flags.seed };
      let columns: Column[];
      try {
        const entries = adapterStore
          .list({ model: modelName, dataset: dataset.name, rank: flags.rank, alpha: flags.alpha })
          .filter((e) => 'id' in e.key && e.key.lr === flags.lr && e.key.epochs === flags.epochs);
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
            (r): Column => ({
              title: `cluster k=${r.k}`,
              method: 'cluster',
              k: r.k,
              metrics: clusterOutcomes.get(r.k)?.metrics,
              scores: scoresOf(clusterOutcomes.get(r.k)),
              costs: r.why ? undefined : columnCosts(byId(Array.from({ length: r.k }, (_, c) => clusterAdapterId(r.k, c))), n),
              why: r.why,
            }),
          ),
        ];
        columns = withIntervals(table, bootstrap);
      } finally {
        adapterStore.close();
      }
      const rg = columns.find((c) => c.method === 'cat_all_one')?.costs;
      const oracleScores = scoresOf(outcomes.find((o) => o.method === 'oracle'));
      const oracle = oracleScores && bootstrapMean(oracleScores, bootstrap);
      const split = dataset.split ?? 'all';
      const figures = {
        benchmark: 'e2e',
        dataset: dataset.name,
        split,
        questions: examples.length,
        seed: flags.seed,
        model: config.model,
        ...run.finish(),
        date: new Date().toISOString(),
        settings: {
          topk: flags.topk,
          generator: flags.generator,
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
        bootstrap,
        warmup: warmupSplit ? { split: warmupSplit, n: flags.warmupN } : undefined,
      });
      writeFileAtomic(join(out, 'table.md'), `${figures.table}\n`);
      const chart = join(out, 'chart.svg');
      writeFileAtomic(chart, columnsChart(columns, { model: modelName, dataset: dataset.name, split, questions: examples.length }));
      writeFileAtomic(join(out, 'figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
      if (flags.json) ctx.json(figures);
      else ctx.print(`${figures.table}\n\nfigures in ${join(out, 'figures.json')}, chart in ${chart}`);
    });
}

/**
 * The split the warm-up trains on for an evaluation of `evalSplit`: the dataset's non-test questions (rg adapter
 * warmup's default). An evaluation on `all` holds them, and a jsonl: file has no split to take them from.
 */
function checkWarmupSplit(spec: string, evalSplit: string | undefined): string {
  const split = defaultWarmupSplit(spec);
  if (split === undefined)
    throw new UsageError(
      '--warmup: a jsonl: dataset has no training split; train one with rg adapter warmup --dataset jsonl:TRAIN.jsonl and use rg infer --warmup',
    );
  if (evalSplit === 'all') throw new UsageError(`--warmup: --split all holds the warm-up's ${split} questions; evaluate on dev or test`);
  return split;
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
