/**
 * V8's collector without background threads (`node --single-threaded-gc`). On a machine with few cores, V8's
 * concurrent marking and parallel scavenging threads take a core from the thread that serves requests while it
 * retrieves and composes adapters: on 2 cores the p99 of that work is 7.2-7.4 ms with the flag and 10.1-11.5 ms
 * without (docs/BENCHMARKS.md, Serving). The flag can only be given when Node starts (V8 aborts when background marking
 * is turned off in a running process): bin/rg-server.js, run as a command, has /bin/sh start Node with it (the same
 * process, through exec), as the rg bin does for `rg serve`.
 */
export const SINGLE_THREADED_GC = '--single-threaded-gc';

export type GcMode = 'single-threaded' | 'parallel';

/** The collector this process runs with (GET /healthz and `rg bench serve` say it). */
export function currentGc(execArgv: readonly string[] = process.execArgv): GcMode {
  return execArgv.includes(SINGLE_THREADED_GC) ? 'single-threaded' : 'parallel';
}
