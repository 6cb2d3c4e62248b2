import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { AugmentDataError, readAugmented } from '@rg/augment';
import { ClusteringInputError, loadClusters } from '@rg/clustering';
import { loadModel } from '@rg/engine';
import { DEFAULT_TARGETS, type TrainMode } from '@rg/lora-trainer';
import { type Command, Option } from 'commander';
import { subcommandFlags } from '../cluster/flags.js';
import { clustersPath } from '../cluster/run.js';
import { clusterGroups, encodeClusters, type TrainOn } from '../cluster/train.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { nonNegativeInt, positiveInt, positiveNumber } from '../parse.js';
import { prepareTrainingRun } from '../train/base-weight.js';
import { defaultAdapterStore, modelFingerprint, modelKeyName, targetList } from '../train/common.js';

interface ClusterTrainFlags {
  store?: string;
  input: string;
  on: TrainOn;
  adapters?: string;
  rank: number;
  alpha: number;
  lr: number;
  epochs: number;
  batchSize: number;
  gradAccumulation: number;
  targets: string[];
  mode: TrainMode;
  seed: number;
  dataset?: string;
  maxTokens: number;
  json?: boolean;
}

/** `rg cluster train`: one adapter per cluster, with the same recipe and store layout as `rg encode`. */
export function registerClusterTrain(cluster: Command, ctx: CliContext): void {
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
    .option('--adapters <dir>', 'adapter store (default: RG_HOME/adapters)')
    .option('--rank <r>', 'LoRA rank', positiveInt, 2)
    .option('--alpha <a>', 'LoRA alpha', positiveNumber, 32)
    .option('--lr <lr>', 'AdamW learning rate', positiveNumber, 3e-4)
    .option('--epochs <n>', 'epochs over each cluster’s examples', positiveInt, 1)
    .option('--batch-size <n>', 'examples per batch', positiveInt, 1)
    .option('--grad-accumulation <n>', 'batches per optimizer step', positiveInt, 1)
    .option('--targets <list>', 'target modules (must match the stored base_weight)', targetList, [...DEFAULT_TARGETS])
    .addOption(
      new Option('--mode <mode>', 'lora: trained weights; gradient: the raw gradient at base_weight')
        .choices(['lora', 'gradient'])
        .default('lora'),
    )
    .option('--seed <s>', 'seed of shuffling, the QA split and (if none is stored) the base_weight init', nonNegativeInt, 0)
    .option('--dataset <name>', 'dataset segment of the store key (default: the input file name, as rg encode)')
    .option('--max-tokens <n>', 'leave out training examples longer than this', positiveInt, 1024)
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
      const input = resolve(ctx.io.cwd, flags.input);
      if (!existsSync(input)) throw new UsageError(`--input ${input}: no such file`);
      let records: Awaited<ReturnType<typeof readAugmented>>;
      try {
        records = await readAugmented(input);
      } catch (e) {
        throw e instanceof AugmentDataError ? new UsageError(e.message) : e;
      }
      const usable = new Map(records.filter((r) => r.status === 'ok').map((r) => [r.passageId, r]));
      const groups = clusterGroups(clusters, usable, flags.on);
      const missing = groups.flatMap((g) => g.missing);
      if (missing.length > 0) {
        ctx.info(
          `${missing.length} ${flags.on === 'all' ? 'members' : 'representatives'} have no usable augmented record in ${input}, e.g. ${missing.slice(0, 3).join(', ')}`,
        );
      }

      const model = await loadModel(config.model, { home: config.home });
      const fingerprint = modelFingerprint(model.config, model.source);
      const modelName = modelKeyName(model.source);
      const storeDir = resolve(ctx.io.cwd, flags.adapters ?? defaultAdapterStore(config.home));
      const store = AdapterStore.open(storeDir);
      try {
        const { base, session, scope } = await prepareTrainingRun(
          store,
          model,
          { modelName, fingerprint, input, threads: config.threads, flags },
          (text) => ctx.info(text),
        );
        const bar = ctx.progress('cluster adapters', groups.length, 'clusters', flags.json);
        const t0 = performance.now();
        try {
          const outcomes = await encodeClusters(
            groups,
            { session, encoder: model.tokenizer, store, base, scope, modelFingerprint: fingerprint },
            {
              mode: flags.mode,
              lr: flags.lr,
              epochs: flags.epochs,
              batchSize: flags.batchSize,
              gradAccumulation: flags.gradAccumulation,
              seed: flags.seed,
              maxTokens: flags.maxTokens,
            },
            {
              onGroup: (o) => {
                bar.tick();
                if (o.status === 'failed') ctx.info(`FAILED ${o.id}: ${o.error}`);
                else if (o.status === 'trained' && !flags.json)
                  ctx.info(`${o.id}: ${o.examples} examples, loss ${o.finalLoss.toFixed(3)}, ${(o.ms / 1000).toFixed(1)} s`);
              },
            },
          );
          const count = (s: string) => outcomes.filter((o) => o.status === s).length;
          const trainedMs = outcomes.reduce((ms, o) => ms + (o.status === 'trained' ? o.ms : 0), 0);
          const summary = {
            adapters: storeDir,
            scope,
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
          await session.release();
        }
      } finally {
        store.close();
      }
    });
}
