import { existsSync } from 'node:fs';
import { evaluateK, loadClusters, type RepresentativePick } from '@rg/clustering';
import { MINILM } from '@rg/engine';
import {
  ClusterSettingsError,
  checkVectorBackend,
  clusterReported,
  clusterSummary,
  clustersPath,
  defaultVectorBackend,
  EmbeddingCache,
  embedReported,
  formatClusterSummary,
  formatKReports,
  VECTOR_BACKENDS,
  type VectorBackend,
} from '@rg/pipeline';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { subcommandFlags } from '../cluster/flags.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { finiteNumber, nonNegativeInt, positiveInt } from '../parse.js';
import { registerClusterTrain } from './cluster-train.js';
import { openStore } from './index-cmd.js';

interface ClusterFlags {
  store: string;
  k?: number;
  kRange?: number[];
  representatives: number;
  pick: RepresentativePick;
  seed: number;
  sampleSize?: number;
  maxIterations: number;
  tolerance: number;
  refit?: boolean;
  backend?: VectorBackend;
  batchSize: number;
  json?: boolean;
}

function kList(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p) || Number.parseInt(p, 10) < 1)) {
    throw new InvalidArgumentError('expected comma-separated positive integers, e.g. 5,10,20');
  }
  return parts.map((p) => Number.parseInt(p, 10));
}

export function registerCluster(program: Command, ctx: CliContext): void {
  const cluster = program
    .command('cluster')
    .description('k-means over document embeddings: clusters, representatives and centroids for cluster adapters')
    .option('--store <dir>', 'corpus store folder (from rg corpus ingest); required')
    .option('--k <k>', 'number of clusters', positiveInt)
    .option('--k-range <list>', 'report inertia and silhouette for each k (e.g. 5,10,20) instead of saving clusters', kList)
    .option('--representatives <m>', 'representative documents kept per cluster', nonNegativeInt, 5)
    .addOption(
      new Option('--pick <how>', 'representatives: nearest the centroid, or a seeded random sample')
        .choices(['centroid', 'sample'])
        .default('centroid'),
    )
    .option('--seed <s>', 'seed for k-means++, the fit sample and --pick sample', nonNegativeInt, 0)
    .option('--sample-size <n>', 'fit on a seeded sample of n documents, then assign all of them (large corpora)', positiveInt)
    .option('--max-iterations <n>', 'k-means iterations at most', positiveInt, 100)
    .option('--tolerance <t>', 'stop when no centroid moves more than this (squared distance)', finiteNumber, 1e-6)
    .option('--refit', 'fit again even if the store already has clusters (otherwise only new documents are assigned)')
    .addOption(
      new Option(
        '--backend <name>',
        'vector backend for document ids + cluster ids (default: qdrant when RG_QDRANT_URL is set, else embedded)',
      ).choices(VECTOR_BACKENDS),
    )
    .option('--batch-size <n>', 'documents per embedding batch', positiveInt, 32)
    .option('--json', 'print JSON')
    .action(async (flags: ClusterFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      if (!flags.store) throw new UsageError('--store DIR is required');
      if ((flags.k === undefined) === (flags.kRange === undefined)) throw new UsageError('give exactly one of --k K or --k-range LIST');
      if (flags.tolerance < 0) throw new UsageError('--tolerance: expected a number >= 0');
      const backend = flags.backend ?? defaultVectorBackend(ctx.io.env);
      checkVectorBackend(backend, ctx.io.env);
      const store = openStore(flags.store);
      const settings = { seed: flags.seed, sampleSize: flags.sampleSize, maxIterations: flags.maxIterations, tolerance: flags.tolerance };
      const embedOptions = { home: config.home, threads: config.threads, batchSize: flags.batchSize };
      try {
        if (flags.kRange) {
          const cache = EmbeddingCache.open(store, MINILM.name);
          const embedding = await embedReported(ctx.reporter(flags.json), cache, embedOptions);
          const reports = await evaluateK(() => cache.scan(), flags.kRange, settings).catch(clusteringAsUsage);
          if (flags.json) ctx.json({ store: flags.store, embedding, reports });
          else ctx.print(formatKReports(reports));
          return;
        }
        const options = {
          ...settings,
          ...embedOptions,
          k: flags.k as number,
          representatives: flags.representatives,
          pick: flags.pick,
          refit: flags.refit ?? false,
          vectorBackend: backend,
          env: ctx.io.env,
        };
        const { run, embedding, written, file } = await clusterReported(ctx.reporter(flags.json), flags.store, store, options).catch(
          clusteringAsUsage,
        );
        const summary = clusterSummary(run.model, file);
        if (flags.json)
          ctx.json({
            ...summary,
            fitted: run.fitted,
            added: run.added,
            removed: run.removed,
            moved: run.moved,
            embedding,
            vectorBackend: written,
          });
        else ctx.print(formatClusterSummary(summary));
      } finally {
        store.close();
      }
    });

  registerClusterTrain(cluster, ctx);

  cluster
    .command('show')
    .description('sizes, representatives and inertia of the saved clusters')
    .option('--store <dir>', 'corpus store folder; required')
    .option('--json', 'print JSON')
    .action((_opts: unknown, cmd: Command) => {
      const flags = subcommandFlags<{ store?: string; json?: boolean }>(cmd);
      if (!flags.store) throw new UsageError('--store DIR is required');
      const file = clustersPath(flags.store);
      if (!existsSync(file)) throw new UsageError(`${file} does not exist: run rg cluster --store ${flags.store} --k K first`);
      const model: ReturnType<typeof loadClusters> = loadClusters(file);
      const summary = clusterSummary(model, file);
      if (flags.json) ctx.json(summary);
      else ctx.print(formatClusterSummary(summary));
    });
}

/** Saved clusters of other settings as a usage error naming the flag that replaces them. */
function clusteringAsUsage(e: unknown): never {
  if (e instanceof ClusterSettingsError)
    throw new UsageError(`${e.file} was fitted with ${e.differs.join(', ')}; pass --refit to replace it`);
  throw e;
}
