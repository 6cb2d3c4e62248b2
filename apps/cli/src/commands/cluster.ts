import { existsSync } from 'node:fs';
import { ClusteringInputError, evaluateK, loadClusters, type RepresentativePick, saveClusters } from '@rg/clustering';
import { MINILM, SentenceEncoder } from '@rg/engine';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { defaultVectorBackend, VECTOR_BACKENDS, type VectorBackend, type WriteResult, writeClusterIds } from '../cluster/backend.js';
import { EmbeddingCache } from '../cluster/embeddings.js';
import { subcommandFlags } from '../cluster/flags.js';
import { clusterStore, clustersPath, formatKReports, formatSummary, summarize } from '../cluster/run.js';
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
      if (backend === 'qdrant' && !ctx.io.env.RG_QDRANT_URL) {
        throw new UsageError('--backend qdrant needs a server: set RG_QDRANT_URL (e.g. http://localhost:6333)');
      }
      const store = openStore(flags.store);
      try {
        const cache = EmbeddingCache.open(store, MINILM.name);
        const embedding = await embedPending(ctx, cache, config, flags);
        const vectors = () => cache.scan();
        const settings = {
          seed: flags.seed,
          sampleSize: flags.sampleSize,
          maxIterations: flags.maxIterations,
          tolerance: flags.tolerance,
        };
        if (flags.kRange) {
          const reports = await evaluateK(vectors, flags.kRange, settings);
          if (flags.json) ctx.json({ store: flags.store, embedding, reports });
          else ctx.print(formatKReports(reports));
          return;
        }
        const run = await clusterStore(flags.store, vectors, {
          ...settings,
          k: flags.k as number,
          representatives: flags.representatives,
          pick: flags.pick,
          refit: flags.refit ?? false,
          // Saved below, once the cluster ids are in the vector backend: a failed write keeps the old clusters.json.
          save: false,
        });
        ctx.info(
          run.fitted
            ? `fitted k=${run.model.k}`
            : `saved centroids kept (--refit to refit): ${run.added} documents joined, ${run.removed} left, ${run.moved} moved`,
        );
        let written: WriteResult | null = null;
        if (run.fitted || run.added + run.removed + run.moved > 0) {
          const bar = ctx.progress(`writing cluster ids (${backend})`, run.model.assignments.size, 'docs', flags.json);
          written = await writeClusterIds(
            backend,
            flags.store,
            cache,
            run.model,
            { batchSize: 256, onBatch: (n) => bar.tick(n) },
            ctx.io.env,
          );
          bar.stop();
          ctx.info(`wrote ${written.documents} document ids + cluster ids to ${written.backend} (${written.target})`);
        }
        if (run.changed) saveClusters(clustersPath(flags.store), run.model);
        const summary = summarize(run.model, clustersPath(flags.store));
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
        else ctx.print(formatSummary(summary));
      } catch (e) {
        if (e instanceof ClusteringInputError) throw new UsageError(e.message);
        throw e;
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
      let model: ReturnType<typeof loadClusters>;
      try {
        model = loadClusters(file);
      } catch (e) {
        if (e instanceof ClusteringInputError) throw new UsageError(e.message);
        throw e;
      }
      const summary = summarize(model, file);
      if (flags.json) ctx.json(summary);
      else ctx.print(formatSummary(summary));
    });
}

/** Embeds the documents that have no cached vector yet; the encoder is loaded only when there are some. */
async function embedPending(
  ctx: CliContext,
  cache: EmbeddingCache,
  config: { home: string; threads: number },
  flags: ClusterFlags,
): Promise<{ embedded: number; seconds: number; model: string }> {
  const pending = cache.pending();
  if (pending === 0) return { embedded: 0, seconds: 0, model: cache.model };
  const encoder = await SentenceEncoder.miniLM(config.home, { threads: config.threads, log: (line) => ctx.info(line) });
  const bar = ctx.progress('embedding', pending, 'docs', flags.json);
  const t0 = performance.now();
  try {
    const embedded = await cache.fill(encoder, { batchSize: flags.batchSize, onBatch: (n) => bar.tick(n) });
    const seconds = (performance.now() - t0) / 1000;
    ctx.info(`embedded ${embedded} documents in ${seconds.toFixed(1)} s (${cache.model})`);
    return { embedded, seconds, model: cache.model };
  } finally {
    bar.stop();
    await encoder.close();
  }
}
