import { existsSync } from 'node:fs';
import { ClusteringInputError, evaluateK, loadClusters, type RepresentativePick } from '@rg/clustering';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { EmbeddingCache, type TextEmbedder } from '../cluster/embeddings.js';
import { clusterStore, clustersPath, formatKReports, formatSummary, summarize } from '../cluster/run.js';
import type { CliContext } from '../context.js';
import { NotBuiltError, UsageError } from '../errors.js';
import { finiteNumber, nonNegativeInt, positiveInt } from '../parse.js';
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
  backend?: 'qdrant' | 'embedded';
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
      ).choices(['qdrant', 'embedded']),
    )
    .option('--batch-size <n>', 'documents per embedding batch', positiveInt, 32)
    .option('--json', 'print JSON')
    .action(async (flags: ClusterFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      if (!flags.store) throw new UsageError('--store DIR is required');
      if ((flags.k === undefined) === (flags.kRange === undefined)) throw new UsageError('give exactly one of --k K or --k-range LIST');
      if (flags.tolerance < 0) throw new UsageError('--tolerance: expected a number >= 0');
      const store = openStore(flags.store);
      try {
        const embedder = await openEmbedder(config.home);
        const cache = EmbeddingCache.open(store, embedder.model);
        const pending = cache.pending();
        if (pending > 0) {
          const bar = ctx.progress('embedding', pending, 'docs', flags.json);
          const t0 = Date.now();
          const n = await cache.fill(embedder, { batchSize: flags.batchSize, onBatch: (b) => bar.tick(b) });
          bar.stop();
          ctx.info(`embedded ${n} documents in ${((Date.now() - t0) / 1000).toFixed(1)} s (${embedder.model})`);
        }
        const vectors = () => cache.scan();
        const settings = {
          seed: flags.seed,
          sampleSize: flags.sampleSize,
          maxIterations: flags.maxIterations,
          tolerance: flags.tolerance,
        };
        if (flags.kRange) {
          const reports = await evaluateK(vectors, flags.kRange, settings);
          if (flags.json) ctx.json({ store: flags.store, reports });
          else ctx.print(formatKReports(reports));
          return;
        }
        const run = await clusterStore(flags.store, vectors, {
          ...settings,
          k: flags.k as number,
          representatives: flags.representatives,
          pick: flags.pick,
          refit: flags.refit ?? false,
        });
        const summary = summarize(run.model, clustersPath(flags.store));
        if (flags.json) ctx.json({ ...summary, fitted: run.fitted, added: run.added });
        else {
          ctx.info(run.fitted ? `fitted k=${run.model.k}` : `assigned ${run.added} new documents to the saved clusters (--refit to refit)`);
          ctx.print(formatSummary(summary));
        }
      } catch (e) {
        if (e instanceof ClusteringInputError) throw new UsageError(e.message);
        throw e;
      } finally {
        store.close();
      }
    });

  cluster
    .command('show')
    .description('sizes, representatives and inertia of the saved clusters')
    .option('--store <dir>', 'corpus store folder; required')
    .option('--json', 'print JSON')
    .action((_opts: unknown, cmd: Command) => {
      // The parent command parses --store/--json too when they follow `show`: read the merged options.
      const flags = cmd.optsWithGlobals() as { store?: string; json?: boolean };
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

async function openEmbedder(_home: string): Promise<TextEmbedder & { model: string }> {
  throw new NotBuiltError(
    'the sentence encoder (packages/engine/src/encoder, issue 5) has not landed; rg cluster cannot embed documents yet',
  );
}
