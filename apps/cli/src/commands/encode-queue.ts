import { basename } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { documentGroups, parseQueueUrl, type QueueOutcome, runCoordinator } from '@rg/encode-queue';
import { loadModelConfig, modelFingerprint, modelKeyName } from '@rg/engine';
import { BaseWeightMismatchError, loadOrInitBaseWeight, type RecipeRecord, type TrainingGroup } from '@rg/lora-trainer';
import { minutes, trainerOptions, trainerRecipe } from '@rg/pipeline';
import type { Config } from '../config.js';
import type { CliContext } from '../context.js';
import { InterruptedError, UsageError } from '../errors.js';
import { recipeMismatchAsUsage, type TrainerFlags } from '../train/run.js';

/** What `rg encode --queue` needs beyond the trainer flags. */
export interface QueueEncodeRun {
  config: Config;
  storeDir: string;
  input: string;
  flags: TrainerFlags & { queue: string; json?: boolean; dapt?: boolean; docsPerPass?: number };
}

/** A --queue URL that does not parse is the user's to fix. */
export function queueTarget(url: string) {
  return parseQueueUrl(url);
}

/**
 * `rg encode --queue URL`: the coordinator (@rg/encode-queue's runCoordinator). It needs the model's config, not its
 * weights (the workers train); it stores the base_weight as rg encode would, enqueues a job per passage, and is the
 * only writer of the store. Ctrl-C stops collecting: queued jobs stay, and the same command collects them later.
 */
export async function encodeOnQueue(ctx: CliContext, run: QueueEncodeRun, todo: RecipeRecord[]): Promise<void> {
  const { flags } = run;
  if (flags.dapt) throw new UsageError('--queue: --dapt trains one adapter, which gains nothing from a queue (run it without --queue)');
  if ((flags.docsPerPass ?? 1) > 1)
    throw new UsageError('--queue: --docs-per-pass applies to one process; each worker trains one passage per job');
  const { groups, refused } = documentGroups(todo);
  await trainOnQueue(ctx, run, groups, refused, 'passages');
}

/**
 * The coordinator for any groups of records, one adapter (one job) each: passages (rg encode --queue) or clusters'
 * representatives (rg cluster train --queue). `refused` are outcomes decided before the queue (reserved ids).
 */
export async function trainOnQueue(
  ctx: CliContext,
  run: QueueEncodeRun,
  groups: TrainingGroup[],
  refused: QueueOutcome[],
  unit: 'passages' | 'clusters',
): Promise<void> {
  const { flags, config } = run;
  if ((flags as { warmup?: boolean }).warmup)
    throw new UsageError('--queue: --warmup is not supported by the queue’s workers yet (run it without --queue)');
  const total = groups.length + refused.length;
  const queue = queueTarget(flags.queue);
  const { config: modelConfig, source } = await loadModelConfig(config.model, { home: config.home, pull: true });
  const modelName = modelKeyName(source);
  const fingerprint = modelFingerprint(modelConfig, source);
  const store = AdapterStore.open(run.storeDir);
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  const bar = ctx.progress(
    `${unit === 'clusters' ? 'cluster adapters' : 'encode'} (queue)`,
    total,
    unit === 'clusters' ? 'clusters' : 'docs',
    flags.json,
  );
  try {
    try {
      loadOrInitBaseWeight(
        store,
        modelConfig,
        { modelName, fingerprint, rank: flags.rank, alpha: flags.alpha, targets: flags.targets, seed: flags.seed },
        (key) => ctx.info(`no base_weight for ${key.model} rank=${key.rank} alpha=${key.alpha}: initialised one (seed ${flags.seed})`),
      );
    } catch (e) {
      if (e instanceof BaseWeightMismatchError)
        throw new UsageError(
          `--targets ${e.requested.join(',')}: the stored base_weight targets ${e.stored.join(',')} (rg adapter init with other targets, or another --store)`,
        );
      throw e;
    }
    const scope = {
      model: modelName,
      rank: flags.rank,
      alpha: flags.alpha,
      dataset: flags.dataset ?? basename(run.input).replace(/\.[^.]*$/, ''),
      lr: flags.lr,
      epochs: flags.epochs,
    };
    const say = (o: QueueOutcome, done: number) => {
      bar.tick();
      if (o.status === 'failed') ctx.info(`FAILED ${o.id}${o.jobId ? ` (job ${o.jobId})` : ''}: ${o.error}`);
      else if (o.status === 'trained' && !flags.json)
        ctx.info(
          `[${done}/${total}] ${o.id}: ${o.examples} examples, loss ${o.finalLoss.toFixed(3)}, ${o.trainSeconds.toFixed(1)} s on ${o.worker}`,
        );
    };
    let done = 0;
    for (const o of refused) say(o, ++done);
    if (!flags.json) ctx.info(`queue ${queue.display}: ${groups.length} ${unit}; start workers with: rg worker --queue ${flags.queue}`);
    let lastLine = 0;
    const summary = await runCoordinator({
      queue,
      store,
      scope,
      modelFingerprint: fingerprint,
      groups,
      options: trainerOptions(flags),
      signal: stop.signal,
      onOutcome: (o) => say(o, ++done),
      onProgress: (p) => {
        // A status line every 30 s for logs (the bar covers terminals).
        if (flags.json || ctx.io.isTTY || performance.now() - lastLine < 30_000) return;
        lastLine = performance.now();
        const eta = p.etaSeconds === null ? '?' : minutes(p.etaSeconds);
        ctx.info(
          `queue: ${p.committed}/${p.total} done, ${p.failed} failed, ${p.waiting} waiting, ${p.active} active | ${p.docsPerSecond.toFixed(2)} docs/s, ETA ${eta}`,
        );
      },
    }).catch(recipeMismatchAsUsage('--store DIR or --dataset NAME'));
    const failed = [...refused.map((o) => ({ id: o.id, error: o.status === 'failed' ? o.error : '' })), ...summary.failed];
    const result = {
      store: store.root,
      queue: summary.queue,
      scope,
      mode: flags.mode,
      recipe: trainerRecipe(flags),
      [unit]: total,
      trained: summary.committed,
      skipped: summary.alreadyStored,
      failed: failed.length,
      failedIds: failed.map((f) => f.id),
      failedJobs: failed,
      enqueued: summary.enqueued,
      requeued: summary.requeued,
      duplicatesDropped: summary.duplicatesDropped,
      interrupted: summary.interrupted,
      seconds: summary.seconds,
      docsPerSecond: summary.docsPerSecond,
    };
    bar.stop();
    if (flags.json) ctx.json(result);
    else
      ctx.print(
        `encoded ${result.trained}, skipped ${result.skipped} (already stored), failed ${result.failed} in ${minutes(result.seconds)} (${result.docsPerSecond.toFixed(2)} docs/s) -> ${store.root}`,
      );
    if (summary.interrupted) throw new InterruptedError(`jobs stay queued on ${queue.display}; run the same command again to collect them`);
    if (result.failed > 0 && result.trained === 0 && result.skipped === 0)
      throw new Error(`all ${result.failed} ${unit} to train failed (first: ${failed[0].id}: ${failed[0].error})`);
  } finally {
    bar.stop();
    process.removeListener('SIGINT', onSigint);
    store.close();
  }
}
