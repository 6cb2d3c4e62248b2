import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fitClusters, routeQuery, silhouetteScore } from '@rg/clustering';
import { type Question, readQuestions } from '@rg/corpus';
import { MINILM, SentenceEncoder } from '@rg/engine';
import { EmbeddingCache } from '@rg/pipeline';
import { type Command, InvalidArgumentError } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { nonNegativeInt } from '../parse.js';
import { allowBusyOption, benchCommand, benchRun } from './bench.js';
import { openStore } from './index-cmd.js';

interface Flags {
  store: string;
  input?: string;
  kValues: number[];
  topC: number[];
  seed: number;
  allowBusy?: boolean;
  json?: boolean;
}

function positiveList(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p) || Number.parseInt(p, 10) < 1))
    throw new InvalidArgumentError('expected comma-separated positive integers');
  return parts.map((p) => Number.parseInt(p, 10));
}

/**
 * How well cluster routing finds a question's document on PubMedQA PQA-L (gold = the question's own abstract):
 * for each k, the share of questions whose abstract is in one of the top-c clusters the question is routed to
 * (cosine to the centroids, as `cluster` inference routes), beside chance (c/k), inertia, silhouette and fit time.
 * Clusters are fitted in memory: the store's saved clusters are not touched.
 */
export function registerBenchCluster(program: Command, ctx: CliContext): void {
  benchCommand(program)
    .command('cluster')
    .description('cluster routing on PubMedQA PQA-L: gold abstract in the top-c routed clusters, per k; inertia, silhouette, fit time')
    .requiredOption('--store <dir>', 'corpus store of the PubMedQA abstracts (rg corpus ingest --format pubmedqa)')
    .option('--input <file>', 'PubMedQA ori_pqal.json with the questions (default ../shared/data/pubmedqa/ori_pqal.json)')
    .option('--k-values <list>', 'numbers of clusters', positiveList, [10, 50, 100])
    .option('--top-c <list>', 'clusters routed per question', positiveList, [1, 3])
    .option('--seed <s>', 'k-means seed', nonNegativeInt, 0)
    .addOption(allowBusyOption())
    .option('--json', 'print one JSON line')
    .action(async (flags: Flags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const input = resolve(ctx.io.cwd, flags.input ?? '../shared/data/pubmedqa/ori_pqal.json');
      if (!existsSync(input)) throw new UsageError(`--input ${input}: not found (PubMedQA PQA-L ori_pqal.json)`);
      const run = benchRun(ctx, { threads: config.threads, allowBusy: flags.allowBusy ?? false });
      const store = openStore(flags.store);
      const encoder = await SentenceEncoder.miniLM(config.home, { threads: config.threads, log: (l) => ctx.info(l) });
      try {
        const cache = EmbeddingCache.open(store, MINILM.name);
        const t0 = performance.now();
        const embedded = await cache.fill(encoder, { batchSize: 32 });
        const documentEmbedSeconds = (performance.now() - t0) / 1000;
        const items = [...cache.scan()];
        const questions: Question[] = [];
        for await (const q of readQuestions(input, 'pubmedqa')) if (q.question) questions.push(q.question);
        const ids = new Set(items.map((it) => it.id));
        const known = questions.filter((q) => ids.has(q.id));
        if (known.length === 0) throw new UsageError(`no question of ${input} has its abstract (same id) in ${flags.store}`);
        const t1 = performance.now();
        const queryVectors = await encoder.embed(known.map((q) => q.text));
        const questionEmbedSeconds = (performance.now() - t1) / 1000;

        const results = [];
        for (const k of flags.kValues) {
          const cpu0 = process.cpuUsage();
          const t = performance.now();
          const model = await fitClusters(items, { k, seed: flags.seed, representatives: 0 });
          const fitSeconds = (performance.now() - t) / 1000;
          const cpu = process.cpuUsage(cpu0);
          const hits = new Map(flags.topC.map((c) => [c, 0]));
          known.forEach((q, i) => {
            const routed = routeQuery(model.centroids, queryVectors[i], { topC: Math.max(...flags.topC) }).map((r) => r.cluster);
            const gold = model.assignments.get(q.id);
            const rank = routed.indexOf(gold as number);
            for (const c of flags.topC) if (rank !== -1 && rank < c) hits.set(c, (hits.get(c) ?? 0) + 1);
          });
          const labels = items.map((it) => model.assignments.get(it.id) as number);
          results.push({
            k,
            routing: Object.fromEntries(flags.topC.map((c) => [`top${c}`, (hits.get(c) ?? 0) / known.length])),
            chance: Object.fromEntries(flags.topC.map((c) => [`top${c}`, Math.min(c, k) / k])),
            inertia: model.inertia,
            silhouette:
              items.length <= 5000
                ? silhouetteScore(
                    items.map((it) => it.vector),
                    labels,
                  )
                : null,
            sizes: { min: Math.min(...model.sizes), max: Math.max(...model.sizes) },
            iterations: model.iterations,
            converged: model.converged,
            fitSeconds,
            fitCpuSeconds: (cpu.user + cpu.system) / 1e6,
          });
          ctx.info(`k=${k}: routing top-1 ${(results.at(-1)?.routing.top1 ?? 0).toFixed(3)}`);
        }
        const result = {
          bench: 'cluster',
          ...run.finish(),
          corpus: { store: flags.store, documents: items.length, questions: known.length, gold: 'the question’s own abstract' },
          encoder: { model: MINILM.name, documentsEmbeddedNow: embedded, documentEmbedSeconds, questionEmbedSeconds },
          seed: flags.seed,
          results,
        };
        if (flags.json) ctx.json(result);
        else ctx.print(JSON.stringify(result, null, 2));
      } finally {
        await encoder.close();
        store.close();
      }
    });
}
