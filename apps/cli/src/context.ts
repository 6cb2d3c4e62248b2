import type { Progress, Reporter } from '@rg/pipeline';
import { type Config, loadConfig } from '@rg/pipeline';
import cliProgress from 'cli-progress';

/** Where a command writes; tests capture these instead of the real streams. */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** True when stderr is a terminal: progress bars are shown only then. */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The 1, 5 and 15-minute load averages (os.loadavg), which benchmarks check and record; tests pass fixed ones. */
  loadavg: () => number[];
}

export type { Progress };

/** Global flags every command understands (defined on the root program). */
export interface GlobalFlags {
  home?: string;
  model?: string;
  threads?: number;
  config?: string;
  json?: boolean;
}

export class CliContext {
  constructor(readonly io: Io) {}

  config(flags: GlobalFlags): Config {
    return loadConfig({
      flags: { home: flags.home, model: flags.model, threads: flags.threads },
      env: this.io.env,
      configPath: flags.config,
      cwd: this.io.cwd,
    });
  }

  print(text: string): void {
    this.io.stdout(`${text}\n`);
  }

  json(value: unknown): void {
    this.io.stdout(`${JSON.stringify(value)}\n`);
  }

  info(text: string): void {
    this.io.stderr(`${text}\n`);
  }

  /** @rg/pipeline's steps report here: lines on stderr, bars on a terminal unless `quiet` (--json). */
  reporter(quiet?: boolean): Reporter {
    return { info: (line) => this.info(line), progress: (label, total, unit) => this.progress(label, total, unit, quiet) };
  }

  /**
   * A progress bar with count, rate and ETA on a terminal; silent in pipes and with --json,
   * so scripts read clean output.
   */
  progress(label: string, total: number, unit = 'items', quiet = false): Progress {
    if (!this.io.isTTY || quiet) return { tick() {}, stop() {} };
    const bar = new cliProgress.SingleBar(
      {
        // {note}: an optional tail a command fills per tick (e.g. a failure count).
        format: `${label} [{bar}] {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted}{note}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    const start = Date.now();
    let done = 0;
    bar.start(total, 0, { rate: '0.0', note: '' });
    return {
      tick(n = 1, payload = {}) {
        done += n;
        const rate = done / Math.max((Date.now() - start) / 1000, 1e-3);
        bar.update(done, { rate: rate.toFixed(1), ...payload });
      },
      stop() {
        bar.stop();
      },
    };
  }
}
