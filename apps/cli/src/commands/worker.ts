import { DEFAULT_LOCK_SETTINGS, parseQueueUrl, runEncodeWorker, superviseWorkers, WorkerStartError } from '@rg/encode-queue';
import { loadModel } from '@rg/engine';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { positiveInt, positiveNumber } from '../parse.js';

interface WorkerFlags {
  queue: string;
  concurrency: number;
  exitWhenIdle?: number;
  lockDuration: number;
  json?: boolean;
}

/**
 * `rg worker --queue URL`: trains the adapters an `rg encode --queue` coordinator enqueues, on this machine. One job
 * at a time per process (onnxruntime blocks the event loop for a whole step), so `--concurrency N` runs N worker
 * processes with --threads / N onnxruntime threads each.
 */
export function registerWorker(program: Command, ctx: CliContext): void {
  program
    .command('worker')
    .description('train adapters for an rg encode --queue coordinator (any number of workers, on any machine with the model)')
    .requiredOption('--queue <url>', 'the coordinator’s queue: redis://HOST:PORT/N')
    .option('--concurrency <n>', 'jobs at once: n worker processes sharing --threads', positiveInt, 1)
    .option('--exit-when-idle <seconds>', 'exit once no job has been waiting or running for this long (batch use)', positiveNumber)
    .option(
      '--lock-duration <seconds>',
      'BullMQ job lock: a dead worker’s job goes to another after this plus half of it; keep it well above one training step',
      positiveNumber,
      DEFAULT_LOCK_SETTINGS.lockDurationMs / 1000,
    )
    .option('--json', 'print a JSON summary when the worker exits (and no per-job lines)')
    .action(async (flags: WorkerFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const queue = parseQueueUrl(flags.queue);
      if (flags.concurrency > 1) {
        const threads = Math.max(1, Math.floor(config.threads / flags.concurrency));
        const argv = ['--home', config.home, '--model', config.model, '--threads', String(threads), 'worker', '--queue', flags.queue];
        if (flags.exitWhenIdle) argv.push('--exit-when-idle', String(flags.exitWhenIdle));
        if (flags.json) argv.push('--json');
        argv.push('--lock-duration', String(flags.lockDuration));
        ctx.info(`rg worker: ${flags.concurrency} processes, ${threads} onnxruntime thread(s) each, on ${queue.display}`);
        await superviseWorkers({
          count: flags.concurrency,
          command: [process.execPath, process.argv[1], ...argv],
          onRestart: (pid, why) => ctx.info(`rg worker: process ${pid} ended (${why}); starting another`),
        }).catch((e) => {
          // Exit 2 is a usage error of the worker's own (its line is above): the same for the whole command.
          throw e instanceof WorkerStartError && e.code === 2 ? new UsageError(e.message) : e;
        });
        return;
      }
      const model = await loadModel(config.model, { home: config.home, pull: true });
      const verbose = !flags.json;
      const worker = await runEncodeWorker({
        queue,
        model,
        threads: config.threads,
        lock: { lockDurationMs: flags.lockDuration * 1000, stalledIntervalMs: (flags.lockDuration * 1000) / 2 },
        exitWhenIdleMs: flags.exitWhenIdle === undefined ? undefined : flags.exitWhenIdle * 1000,
        stopOn: process,
        hooks: {
          onJobDone: ({ adapterId, result }) => {
            if (verbose) ctx.info(`${adapterId}: ${result.examples} examples, ${result.trainSeconds.toFixed(1)} s`);
          },
          onJobFailed: ({ jobId, adapterId, error }) => ctx.info(`FAILED ${adapterId} (job ${jobId}): ${error}`),
        },
      });
      if (verbose)
        ctx.info(`rg worker ${worker.name}: waiting for jobs on ${queue.display} (Ctrl-C finishes the job in hand, twice stops at once)`);
      const summary = { ...(await worker.finished), queue: queue.display };
      if (flags.json) ctx.json(summary);
      else ctx.info(`rg worker ${worker.name}: ${summary.done} adapters trained, ${summary.failed} failed in ${summary.seconds} s`);
    });
}
