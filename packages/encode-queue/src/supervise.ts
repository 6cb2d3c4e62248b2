import { type ChildProcess, spawn } from 'node:child_process';

export interface SuperviseOptions {
  /** Worker processes at once. */
  count: number;
  /** The program and its arguments, e.g. [process.execPath, 'rg.js', 'worker', '--queue', url]. */
  command: readonly string[];
  /** Called when a process ended with a failure (not stopped by a passed-on signal) and another takes its place. */
  onRestart?: (pid: number | undefined, reason: string) => void;
  /** Delay before the replacement starts (a worker that fails at once must not spin). Default 1 s. */
  restartDelayMs?: number;
  /** Where SIGINT and SIGTERM come from (default: this process). */
  signals?: NodeJS.EventEmitter;
}

/**
 * `count` copies of a worker process on this machine: one job at a time per process, since onnxruntime blocks a
 * process's event loop for a whole step. SIGINT and SIGTERM are passed on (a worker finishes the job in hand on the
 * first and stops on the second); a process that ends with a failure otherwise is started again. Resolves once
 * every process has ended after a signal, or with exit status 0 (e.g. a worker's --exit-when-idle).
 */
export async function superviseWorkers(options: SuperviseOptions): Promise<void> {
  const [program, ...args] = options.command;
  const signals = options.signals ?? process;
  const delay = options.restartDelayMs ?? 1000;
  let stopping = false;
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
        const child = spawn(program, args, { stdio: 'inherit' });
        children.add(child);
        child.on('exit', (code, signal) => {
          children.delete(child);
          if (!stopping && code !== 0) {
            options.onRestart?.(child.pid, signal ?? `exit ${code}`);
            setTimeout(start, delay);
          } else if (children.size === 0) resolve();
        });
      };
      for (let i = 0; i < options.count; i++) start();
    });
  } finally {
    signals.removeListener('SIGINT', onInt);
    signals.removeListener('SIGTERM', onTerm);
  }
}
