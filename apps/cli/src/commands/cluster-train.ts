import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ClusteringInputError, loadClusters } from '@rg/clustering';
import { trainableRecords } from '@rg/pipeline';
import { type Command, Option } from 'commander';
import { subcommandFlags } from '../cluster/flags.js';
import { clustersPath } from '../cluster/run.js';
import { clusterGroups, encodeClusters, type TrainOn } from '../cluster/train.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { defaultAdapterStore } from '../train/common.js';
import {
  addTrainerOptions,
  openTrainingRun,
  readAugmentedInput,
  recipeMismatchAsUsage,
  type TrainerFlags,
  trainerOptions,
  trainerRecipe,
} from '../train/run.js';

interface ClusterTrainFlags extends TrainerFlags {
  store?: string;
  input: string;
  on: TrainOn;
  adapters?: string;
  json?: boolean;
}

/** `rg cluster train`: one adapter per cluster, with the same recipe and store layout as `rg encode`. */
export function registerClusterTrain(cluster: Command, ctx: CliContext): void {
  addTrainerOptions(
    cluster
      .command('train')
      .description(
        'train one adapter per cluster on its representatives’ augmented records (or all members) into the adapter store; resumable',
      )
      .option('--store <dir>', 'corpus store with clusters (from rg cluster); required')
      .requiredOption('--input <file>', 'augmented records of the corpus documents (rg augment output, JSON lines)')
      .addOption(
        new Option('--on <which>', 'train on the representatives or on every member')
          .choices(['representatives', 'all'])
          .default('representatives'),
      )
      .option('--adapters <dir>', 'adapter store (default: RG_HOME/adapters)'),
    'cluster',
  )
    .option('--dataset <name>', 'dataset segment of the store key (default: the input file name, as rg encode)')
    .option('--json', 'print a JSON summary')
    .action(async (_opts: unknown, cmd: Command) => {
      const flags = subcommandFlags<ClusterTrainFlags>(cmd);
      const config = ctx.config(cmd.optsWithGlobals());
      if (!flags.store) throw new UsageError('--store DIR is required');
      const file = clustersPath(flags.store);
      if (!existsSync(file)) throw new UsageError(`${file} does not exist: run rg cluster --store ${flags.store} --k K first`);
      let clusters: ReturnType<typeof loadClusters>;
      try {
        clusters = loadClusters(file);
      } catch (e) {
        throw e instanceof ClusteringInputError ? new UsageError(e.message) : e;
      }
      const { input, records } = await readAugmentedInput(ctx.io.cwd, flags.input);
      const usable = new Map(trainableRecords(records, (text) => ctx.info(text), flags.examples).map((r) => [r.passageId, r]));
      const groups = clusterGroups(clusters, usable, flags.on);
      const missing = groups.flatMap((g) => g.missing);
      if (missing.length > 0) {
        ctx.info(
          `${missing.length} ${flags.on === 'all' ? 'members' : 'representatives'} have no usable augmented record in ${input}, e.g. ${missing.slice(0, 3).join(', ')}`,
        );
      }

      const storeDir = resolve(ctx.io.cwd, flags.adapters ?? defaultAdapterStore(config.home));
      const run = await openTrainingRun(config, { storeDir, input, flags }, (text) => ctx.info(text));
      try {
        const bar = ctx.progress('cluster adapters', groups.length, 'clusters', flags.json);
        const t0 = performance.now();
        try {
          const outcomes = await encodeClusters(groups, run.encode, trainerOptions(flags), {
            onGroup: (o) => {
              bar.tick();
              if (o.status === 'failed') ctx.info(`FAILED ${o.id}: ${o.error}`);
              else if (o.status === 'trained' && !flags.json)
                ctx.info(`${o.id}: ${o.examples} examples, loss ${o.finalLoss.toFixed(3)}, ${(o.ms / 1000).toFixed(1)} s`);
            },
          }).catch(recipeMismatchAsUsage('--adapters DIR or --dataset NAME'));
          const count = (s: string) => outcomes.filter((o) => o.status === s).length;
          const trainedMs = outcomes.reduce((ms, o) => ms + (o.status === 'trained' ? o.ms : 0), 0);
          const summary = {
            adapters: storeDir,
            scope: run.encode.scope,
            recipe: trainerRecipe(flags),
            k: clusters.k,
            on: flags.on,
            documents: groups.reduce((n, g) => n + g.records.length, 0),
            missingRecords: missing.length,
            trained: count('trained'),
            skipped: count('skipped'),
            failed: count('failed'),
            failedIds: outcomes.filter((o) => o.status === 'failed').map((o) => o.id),
            seconds: Math.round((performance.now() - t0) / 100) / 10,
            trainSeconds: Math.round(trainedMs / 100) / 10,
          };
          if (flags.json) ctx.json(summary);
          else
            ctx.print(
              `cluster adapters for k=${clusters.k}: trained ${summary.trained}, skipped ${summary.skipped} (already stored), failed ${summary.failed} in ${summary.seconds} s -> ${storeDir}`,
            );
        } finally {
          bar.stop();
        }
      } finally {
        await run.close();
      }
    });
}
