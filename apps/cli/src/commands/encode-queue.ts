import { basename } from 'node:path';
import { coordinateReported, type QueueOutcome } from '@rg/encode-queue';
import type { TrainingGroup } from '@rg/lora-trainer';
import type { Config } from '@rg/pipeline';
import { minutes, trainerOptions, trainerRecipe } from '@rg/pipeline';
import type { CliContext } from '../context.js';
import { InterruptedError } from '../errors.js';
import { type TrainerFlags, trainingErrorsAsUsage } from '../train/run.js';

/** What `rg encode --queue` needs beyond the trainer flags. */
export interface QueueEncodeRun {
  config: Config;
  storeDir: string;
  input: string;
  flags: TrainerFlags & { queue: string; json?: boolean; dapt?: boolean; docsPerPass?: number };
}

/**
 * The coordinator for any groups of records, one adapter (one job) each: passages (rg encode --queue) or clusters'
 * representatives (rg cluster train --queue); @rg/encode-queue coordinateReported. `refused` are outcomes decided
 * before the queue (reserved ids). Ctrl-C stops collecting: queued jobs stay, and the same command collects them later.
 */
export async function trainOnQueue(
  ctx: CliContext,
  run: QueueEncodeRun,
  groups: TrainingGroup[],
  refused: QueueOutcome[],
  unit: 'passages' | 'clusters',
): Promise<void> {
  const { flags, config } = run;
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    const {
      unit: _,
      total,
      ...summary
    } = await coordinateReported(ctx.reporter(flags.json), {
      model: config.model,
      home: config.home,
      store: run.storeDir,
      queue: flags.queue,
      dataset: flags.dataset ?? basename(run.input).replace(/\.[^.]*$/, ''),
      rank: flags.rank,
      alpha: flags.alpha,
      targets: flags.targets,
      seed: flags.seed,
      training: trainerOptions(flags),
      recipe: trainerRecipe(flags),
      groups,
      refused,
      unit,
      signal: stop.signal,
      terse: flags.json,
      // A status line every 30 s for logs (the bar covers terminals).
      statusEveryMs: ctx.io.isTTY ? undefined : 30_000,
    }).catch(trainingErrorsAsUsage('--store DIR or --dataset NAME'));
    const { store, queue, scope, mode, recipe, ...counts } = summary;
    const result = { store, queue, scope, mode, recipe, [unit]: total, ...counts };
    if (flags.json) ctx.json(result);
    else
      ctx.print(
        `encoded ${summary.trained}, skipped ${summary.skipped} (already stored), failed ${summary.failed} in ${minutes(summary.seconds)} (${summary.docsPerSecond.toFixed(2)} docs/s) -> ${store}`,
      );
    if (summary.interrupted) throw new InterruptedError(`jobs stay queued on ${queue}; run the same command again to collect them`);
    if (summary.failed > 0 && summary.trained === 0 && summary.skipped === 0) {
      const first = summary.failedJobs[0];
      throw new Error(`all ${summary.failed} ${unit} to train failed (first: ${first.id}: ${first.error})`);
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
