import { type ChildProcess, spawn } from 'node:child_process';
import { DEFAULT_LOCK_SETTINGS, runEncodeWorker } from '@rg/encode-queue';
import { loadModel } from '@rg/engine';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { positiveInt, positiveNumber } from '../parse.js';
import { queueTarget } from './encode-queue.js';

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
      const queue = queueTarget(flags.queue);
      if (flags.concurrency > 1) {
        const threads = Math.max(1, Math.floor(config.threads / flags.concurrency));
        const argv = ['--home', config.home, '--model', config.model, '--threads', String(threads), 'worker', '--queue', flags.queue];
        if (flags.exitWhenIdle) argv.push('--exit-when-idle', String(flags.exitWhenIdle));
        if (flags.json) argv.push('--json');
        argv.push('--lock-duration', String(flags.lockDuration));
        ctx.info(`rg worker: ${flags.concurrency} processes, ${threads} onnxruntime thread(s) each, on ${queue.display}`);
        await superviseWorkers(ctx, flags.concurrency, argv);
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
        hooks: {
          onJobDone: ({ adapterId, result }) => {
            if (verbose) ctx.info(`${adapterId}: ${result.examples} examples, ${result.trainSeconds.toFixed(1)} s`);
          },
          onJobFailed: ({ jobId, adapterId, error }) => ctx.info(`FAILED ${adapterId} (job ${jobId}): ${error}`),
        },
      });
      if (verbose)
        ctx.info(`rg worker ${worker.name}: waiting for jobs on ${queue.display} (Ctrl-C finishes the job in hand, twice stops at once)`);
      const onSignal = () => worker.stop();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const summary = {
        ...(await worker.finished.finally(() => {
          process.removeListener('SIGINT', onSignal);
          process.removeListener('SIGTERM', onSignal);
        })),
        queue: queue.display,
      };
      if (flags.json) ctx.json(summary);
      else ctx.info(`rg worker ${worker.name}: ${summary.done} adapters trained, ${summary.failed} failed in ${summary.seconds} s`);
    });
}

/** N copies of this rg as single workers; signals are passed on; one that dies of something else is started again. */
async function superviseWorkers(ctx: CliContext, count: number, argv: string[]): Promise<void> {
  const bin = process.argv[1];
  let stopping = false;
  const children = new Set<ChildProcess>();
  const onInt = () => pass('SIGINT');
  const onTerm = () => pass('SIGTERM');
  const pass = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const c of children) c.kill(signal);
  };
  await new Promise<void>((resolve) => {
    const start = () => {
      const child = spawn(process.execPath, [bin, ...argv], { stdio: 'inherit' });
      children.add(child);
      child.on('exit', (code, signal) => {
        children.delete(child);
        if (!stopping && code !== 0) {
          ctx.info(`rg worker: process ${child.pid} ended (${signal ?? `exit ${code}`}); starting another`);
          setTimeout(start, 1000);
        } else if (children.size === 0) resolve();
      });
    };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    for (let i = 0; i < count; i++) start();
  });
  process.removeListener('SIGINT', onInt);
  process.removeListener('SIGTERM', onTerm);
}
