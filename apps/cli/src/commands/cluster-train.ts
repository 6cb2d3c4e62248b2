import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadClusters } from '@rg/clustering';
import {
  checkEncodeSettings,
  clusterGroups,
  clustersPath,
  clusterTrainReported,
  encodeFileOptions,
  type TrainOn,
  trainableRecords,
} from '@rg/pipeline';
import { type Command, Option } from 'commander';
import { subcommandFlags } from '../cluster/flags.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { defaultAdapterStore } from '../train/common.js';
import { addTrainerOptions, readAugmentedInput, type TrainerFlags, trainingErrorsAsUsage } from '../train/run.js';
import { trainOnQueue } from './encode-queue.js';

interface ClusterTrainFlags extends TrainerFlags {
  store?: string;
  input: string;
  on: TrainOn;
  adapters?: string;
  json?: boolean;
  queue?: string;
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
  )
    .option('--dataset <name>', 'dataset segment of the store key (default: the input file name, as rg encode)')
    .option('--json', 'print a JSON summary')
    .option(
      '--queue <url>',
      'coordinate workers (rg worker) through Redis, a job per cluster: redis://HOST:PORT/N; this process only stores their adapters',
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const flags = subcommandFlags<ClusterTrainFlags>(cmd);
      checkEncodeSettings(flags);
      const config = ctx.config(cmd.optsWithGlobals());
      if (!flags.store) throw new UsageError('--store DIR is required');
      const file = clustersPath(flags.store);
      if (!existsSync(file)) throw new UsageError(`${file} does not exist: run rg cluster --store ${flags.store} --k K first`);
      const clusters: ReturnType<typeof loadClusters> = loadClusters(file);
      const storeDir = resolve(ctx.io.cwd, flags.adapters ?? defaultAdapterStore(config.home));
      if (flags.queue) {
        const { input, records } = await readAugmentedInput(ctx.io.cwd, flags.input);
        const usable = trainableRecords(records, (text) => ctx.info(text), flags.examples);
        const groups = clusterGroups(clusters, new Map(usable.map((r) => [r.passageId, r])), flags.on);
        const missing = groups.flatMap((g) => g.missing);
        if (missing.length > 0)
          ctx.info(`${missing.length} ${flags.on === 'all' ? 'members' : 'representatives'} have no usable augmented record in ${input}`);
        // The same group, id and trainingConfig (cluster number) as rg cluster train without the queue.
        const jobs = groups.map((g) => ({ adapterId: g.adapterId, records: g.records, metadata: { cluster: g.cluster } }));
        return trainOnQueue(ctx, { config, storeDir, input, flags: { ...flags, queue: flags.queue } }, jobs, [], 'clusters');
      }
      const input = resolve(ctx.io.cwd, flags.input);
      if (!existsSync(input)) throw new UsageError(`--input ${input}: no such file`);
      const where = { model: config.model, home: config.home, threads: config.threads, input, store: storeDir };
      const options = { ...encodeFileOptions(where, flags), clusters, on: flags.on };
      // --json: the summary object alone on stdout (the adapter store named `adapters`, as --adapters); otherwise its line.
      await clusterTrainReported(ctx.reporter(flags.json), options, {
        terse: flags.json,
        summary: (line, { store, ...rest }) => (flags.json ? ctx.json({ adapters: store, ...rest }) : ctx.print(line)),
      }).catch(trainingErrorsAsUsage('--adapters DIR or --dataset NAME'));
    });
}
