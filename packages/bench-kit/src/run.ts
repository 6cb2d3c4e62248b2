import { loadavg as osLoadavg } from 'node:os';
import { gitCommit, type Machine, machine } from './machine.js';

/**
 * Above this 1-minute load average the machine is too busy for timings. The project's machines have 2 cores: past
 * 1.5, other jobs hold most of a core, and earlier figures taken at loads of 5 to 24 swung several-fold between runs.
 */
export const BUSY_LOAD_1M = 1.5;

/** The 1, 5 and 15-minute load averages at the start and at the end of a run. */
export interface LoadRecord {
  start: number[];
  end: number[];
}

/** What every benchmark's JSON carries besides its figures. */
export interface RunRecord {
  /** ISO time the run started. */
  started: string;
  commit: string | null;
  machine: Machine;
  load: LoadRecord;
  /** The 1-minute load at the start was above BUSY_LOAD_1M: the timings are not comparable with a quiet run's. */
  busy: boolean;
}

export interface RunOptions {
  /** Where to read the commit (a folder of the checkout). */
  cwd: string;
  threads?: number;
  /** Run on a busy machine instead of refusing (the record says busy: true). */
  allowBusy: boolean;
  /** os.loadavg by default; tests pass fixed values so that they do not depend on the machine running them. */
  loadavg?: () => number[];
}

/** A run refused because the machine is busy. */
export class BusyMachineError extends Error {
  override name = 'BusyMachineError';
  constructor(readonly load1m: number) {
    super(
      `load average ${load1m.toFixed(2)} at start (> ${BUSY_LOAD_1M}): benchmarks need a quiet machine; --allow-busy to run anyway, the figures will be flagged`,
    );
  }
}

export interface BenchRun {
  /** The record of the run so far; reads the load at the end now, so call it when the measuring is done. */
  finish(): RunRecord;
}

// Two decimals are what the kernel's load average resolves anyway; more digits are noise in the JSON.
const rounded = (load: number[]) => load.slice(0, 3).map((x) => Math.round(x * 100) / 100);

/**
 * Starts a benchmark run: reads the load, the commit (the code at the start: HEAD may move during a long run) and the
 * machine. Throws BusyMachineError when the 1-minute load is above BUSY_LOAD_1M, unless `allowBusy`.
 */
export function startRun(opts: RunOptions): BenchRun {
  const loadavg = opts.loadavg ?? osLoadavg;
  const start = rounded(loadavg());
  const busy = start[0] > BUSY_LOAD_1M;
  if (busy && !opts.allowBusy) throw new BusyMachineError(start[0]);
  const record = { started: new Date().toISOString(), commit: gitCommit(opts.cwd), machine: machine(opts.threads) };
  return {
    finish: () => ({ ...record, load: { start, end: rounded(loadavg()) }, busy }),
  };
}
