import { type ChildProcess, spawn } from 'node:child_process';

export interface SuperviseOptions {
  /** Worker processes at once. */
  count: number;
  /** The program and its arguments, e.g. [process.execPath, 'rg.js', 'worker', '--queue', url]. */
  command: readonly string[];
  /** Called when a process ended with a failure (not stopped by a passed-on signal) and another takes its place. */
  onRestart?: (pid: number | undefined, reason: string) => void;
  /** Delay before the replacement starts. Default 1 s. */
  restartDelayMs?: number;
  /**
   * A process that fails sooner than this after its start is not replaced: a failure at start is the setup's (a queue
   * no Redis answers at, a bad flag, a missing model) and would fail again at once, for ever. Default 10 s.
   */
  minUptimeMs?: number;
  /** Where SIGINT and SIGTERM come from (default: this process). */
  signals?: NodeJS.EventEmitter;
}

/** A worker process failed at its start: the others were stopped. `code` is its exit status (null: a signal ended it). */
export class WorkerStartError extends Error {
  override name = 'WorkerStartError';
  constructor(
    readonly code: number | null,
    readonly reason: string,
    uptimeMs: number,
  ) {
    super(`a worker process ended (${reason}) ${(uptimeMs / 1000).toFixed(1)} s after it started; not restarted: see its error above`);
  }
}

/**
 * `count` copies of a worker process on this machine: one job at a time per process, since onnxruntime blocks a
 * process's event loop for a whole step. SIGINT and SIGTERM are passed on (a worker finishes the job in hand on the
 * first and stops on the second); a process that ends with a failure later than `minUptimeMs` after its start is
 * started again. Resolves once every process has ended after a signal, or with exit status 0 (e.g. a worker's
 * --exit-when-idle); rejects with WorkerStartError, once the others have ended, when one fails at its start.
 */
export async function superviseWorkers(options: SuperviseOptions): Promise<void> {
  const [program, ...args] = options.command;
  const signals = options.signals ?? process;
  const delay = options.restartDelayMs ?? 1000;
  const minUptime = options.minUptimeMs ?? 10_000;
  let stopping = false;
  let failure: WorkerStartError | undefined;
  const children = new Set<ChildProcess>();
  const pass = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const c of children) c.kill(signal);
  };
  const onInt = () => pass('SIGINT');
  const onTerm = () => pass('SIGTERM');
  signals.on('SIGINT', onInt);
  signals.on('SIGTERM', onTerm);
  try {
    await new Promise<void>((resolve) => {
      const start = () => {
        // A signal that came while a replacement waited: it is not started.
        if (stopping) {
          if (children.size === 0) resolve();
          return;
        }
        const started = performance.now();
        const child = spawn(program, args, { stdio: 'inherit' });
        children.add(child);
        child.on('exit', (code, signal) => {
          children.delete(child);
          const reason = signal ?? `exit ${code}`;
          const uptime = performance.now() - started;
          if (!stopping && code !== 0 && uptime < minUptime) {
            failure = new WorkerStartError(code, reason, uptime);
            pass('SIGTERM');
          } else if (!stopping && code !== 0) {
            options.onRestart?.(child.pid, reason);
            setTimeout(start, delay);
            return;
          }
          if (children.size === 0) resolve();
        });
      };
      for (let i = 0; i < options.count; i++) start();
    });
  } finally {
    signals.removeListener('SIGINT', onInt);
    signals.removeListener('SIGTERM', onTerm);
  }
  if (failure) throw failure;
}
