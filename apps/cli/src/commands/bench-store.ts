import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdapterStore, type DocAdapterKey } from '@rg/adapter-store';
import { summary } from '@rg/bench-kit';
import { seededRandom } from '@rg/engine';
import { ADAPTER_DTYPES, type AdapterDtype, encodePeftAdapter, type LoraAdapter, type LoraPair, roundTripDtype } from '@rg/lora';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { positiveInt } from '../parse.js';
import { allowBusyOption, benchCommand, benchRun } from './bench.js';
import { type FetchTimes, timeFetches } from './bench-store-fetch.js';

/** SmolLM2-135M: 30 layers, hidden 576, intermediate 1536; the MLP targets the paper's setup uses. */
const SMOLLM2 = { layers: 30, hidden: 576, intermediate: 1536 };
const TARGETS: Array<[string, number, number]> = [
  ['gate_proj', SMOLLM2.hidden, SMOLLM2.intermediate],
  ['up_proj', SMOLLM2.hidden, SMOLLM2.intermediate],
  ['down_proj', SMOLLM2.intermediate, SMOLLM2.hidden],
];

interface Flags {
  count: number;
  k: number;
  requests: number;
  rank: number;
  dtype: AdapterDtype;
  dir?: string;
  keep?: boolean;
  reuse?: boolean;
  inProcess?: boolean;
  fetchTimes?: boolean;
  unleased?: boolean;
  peer: boolean;
  allowBusy?: boolean;
  json?: boolean;
}

/**
 * Distinct adapters without generating 380k random numbers each: every adapter views a shared
 * random pool at its own offset.
 */
function adapterFactory(rank: number): (i: number) => LoraAdapter {
  const next = seededRandom(42);
  const perAdapter = TARGETS.reduce((s, [, inF, outF]) => s + rank * inF + outF * rank, 0) * SMOLLM2.layers;
  const pool = Float32Array.from({ length: perAdapter + 65_536 }, () => (next() - 0.5) * 0.02);
  return (i: number) => {
    let offset = (i * 9973) % 65_536;
    const modules = new Map<string, LoraPair>();
    for (let layer = 0; layer < SMOLLM2.layers; layer++) {
      for (const [target, inFeatures, outFeatures] of TARGETS) {
        const a = pool.subarray(offset, offset + rank * inFeatures);
        offset += rank * inFeatures;
        const b = pool.subarray(offset, offset + outFeatures * rank);
        offset += outFeatures * rank;
        modules.set(`${layer}.${target}`, { inFeatures, outFeatures, a, b });
      }
    }
    return {
      config: {
        rank,
        alpha: 4 * rank,
        targetModules: TARGETS.map((t) => t[0]),
        baseModel: 'smollm2-135m-instruct',
        useRslora: false,
        dropout: 0,
      },
      modules,
    };
  };
}

/** Max |stored - fp32| over all tensor entries, relative to the largest |entry|. */
function relativeError(a: LoraAdapter, b: LoraAdapter): number {
  let err = 0;
  let max = 0;
  for (const [key, p] of a.modules) {
    const q = b.modules.get(key)!;
    for (const [x, y] of [
      [p.a, q.a],
      [p.b, q.b],
    ]) {
      for (let i = 0; i < x.length; i++) {
        err = Math.max(err, Math.abs(x[i] - y[i]));
        max = Math.max(max, Math.abs(x[i]));
      }
    }
  }
  return err / max;
}

/** `timeFetches` in a new `rg bench store --reuse` process on the same store and requests. */
function fetchInFreshProcess(dir: string, flags: Flags): FetchTimes {
  const bin = fileURLToPath(new URL('../../bin/rg.js', import.meta.url));
  const args = ['bench', 'store', '--reuse', '--fetch-times', '--dir', dir, '--count', String(flags.count), '--k', String(flags.k)];
  args.push('--requests', String(flags.requests), '--rank', String(flags.rank), '--dtype', flags.dtype, '--no-peer', '--json');
  // The parent applied the load guard: the reader is part of its run, busy or not.
  args.push('--allow-busy');
  if (flags.unleased) args.push('--unleased');
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`bench store: the reader process failed (${bin} ${args.join(' ')}): ${r.stderr.slice(-500)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as FetchTimes;
}

export function registerBenchStore(program: Command, ctx: CliContext): void {
  benchCommand(program)
    .command('store')
    .description(
      'adapter store: write throughput, then p50/p99 latency of fetching k adapters (warm LRU, cold) from N SmolLM2-shaped adapters; PEFT loader as peer',
    )
    .option('--count <n>', 'adapters in the store', positiveInt, 10_000)
    .option('--k <k>', 'adapters fetched per request', positiveInt, 3)
    .option('--requests <n>', 'timed requests per mode', positiveInt, 300)
    .option('--rank <r>', 'LoRA rank', positiveInt, 2)
    .addOption(new Option('--dtype <dtype>', 'storage dtype of the adapters').choices(ADAPTER_DTYPES).default('fp32'))
    .option('--dir <dir>', 'build the store here (must not exist; default: a temp folder)')
    .option('--keep', 'keep the store afterwards')
    .option('--reuse', 'time fetches on the store in --dir from an earlier --keep run (same --count/--rank/--dtype), writing nothing')
    .option('--in-process', 'time fetches in the process that wrote the store (default: a fresh reader process, as serving is)')
    .option('--unleased', 'time plain fetchAsync/fetch (a new buffer per cold load) instead of lease/release (recycled buffers)')
    .addOption(new Option('--fetch-times', 'print only the raw fetch timings (what the reader process reports)').hideHelp())
    .option('--no-peer', 'skip the PyTorch + PEFT peer (tools/bench/adapter_store_peer.py)')
    .addOption(allowBusyOption())
    .option('--json', 'print one JSON line')
    .action(async (flags: Flags, cmd: Command) => {
      ctx.config(cmd.optsWithGlobals());
      if (flags.k > flags.count) throw new UsageError(`--k ${flags.k} is larger than --count ${flags.count}`);
      const dir = flags.dir ? resolve(ctx.io.cwd, flags.dir) : join(mkdtempSync(join(tmpdir(), 'rg-bench-store-')), 'store');
      if (flags.reuse && !(flags.dir && existsSync(dir)))
        throw new UsageError('--reuse needs --dir with a store from an earlier --keep run');
      if (!flags.reuse && flags.dir && existsSync(dir)) throw new UsageError(`--dir ${dir} exists: the benchmark writes a fresh store`);
      const run = benchRun(ctx, { allowBusy: flags.allowBusy ?? false });
      const make = adapterFactory(flags.rank);
      const key = (i: number): DocAdapterKey => ({
        model: 'smollm2-135m-instruct',
        rank: flags.rank,
        alpha: 4 * flags.rank,
        dataset: 'bench',
        lr: 0.0003,
        epochs: 1,
        id: `doc-${i}`,
      });
      const store = AdapterStore.open(dir);
      try {
        // Write throughput: every put is a durable, atomic write (fsync files + dirs, manifest commit).
        const writes = flags.reuse ? 0 : flags.count;
        const bar = ctx.progress('bench store: write', writes, 'adapters', flags.json);
        let bytes = 0;
        const w0 = performance.now();
        for (let i = 0; i < writes; i++) {
          bytes += store.put(key(i), make(i), { modelFingerprint: 'bench', dtype: flags.dtype }).bytes;
          bar.tick();
        }
        const writeS = (performance.now() - w0) / 1000;
        bar.stop();

        const pick = seededRandom(7);
        const draw = (n: number) =>
          Array.from({ length: n }, () => {
            const ids = new Set<number>();
            while (ids.size < flags.k) ids.add(Math.floor(pick() * flags.count));
            return [...ids].map(key);
          });
        const requests = draw(flags.requests + 1);
        // Each cold mode reads its own random requests: read right after another mode read (and evicted) the
        // same files, fetches measured slower and noisier than reads of files untouched since they were written.
        const coldRequests = [draw(flags.requests), draw(flags.requests), draw(flags.requests)];
        // A serving process opens an existing store: by default the fetches are timed in a fresh process
        // (`--reuse`), not in this one, whose heap and page cache were just shaped by writing the whole store.
        // (PEFT's peer runs in its own process too.)
        const timed =
          flags.reuse || flags.inProcess
            ? await timeFetches(store, requests, coldRequests, flags.unleased ?? false, ctx)
            : fetchInFreshProcess(dir, flags);
        if (flags.fetchTimes) {
          ctx.json(timed);
          return;
        }
        const { warm, coldWarmPages, cold, coldSync, coldRawRead, catMs, cpuMs, evicted } = timed;

        const sample = make(0);
        const dtypes = Object.fromEntries(
          ADAPTER_DTYPES.map((dtype) => {
            const enc = encodePeftAdapter(sample, dtype);
            return [
              dtype,
              {
                bytesPerAdapter: enc.config.byteLength + enc.model.byteLength,
                maxRelativeError: relativeError(sample, roundTripDtype(sample, dtype)),
                logitChange: 'see rg bench adapter-dtype (runs the model)',
              },
            ];
          }),
        );

        let peer: Record<string, unknown> | null = null;
        const python = resolve(ctx.io.cwd, 'tools/.venv/bin/python');
        const script = resolve(ctx.io.cwd, 'tools/bench/adapter_store_peer.py');
        if (!flags.peer) peer = { skipped: '--no-peer' };
        else if (!existsSync(python) || !existsSync(script))
          peer = { skipped: `needs ${python} and ${script} (run from the repository root)` };
        else {
          const specDir = mkdtempSync(join(tmpdir(), 'rg-bench-store-peer-'));
          const spec = join(specDir, 'requests.json');
          const runPeer = (drop: boolean) => {
            writeFileSync(spec, JSON.stringify({ drop_page_cache: drop, requests: requests.map((r) => r.map((k) => store.pathOf(k))) }));
            const r = spawnSync(python, [script, spec], { encoding: 'utf8' });
            if (r.status !== 0) throw new Error(`peer failed: ${r.stderr.slice(-500)}`);
            return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
          };
          ctx.info('bench store: peer (PEFT load_peft_weights)');
          const peerCold = runPeer(true);
          const peerWarmPages = runPeer(false);
          rmSync(specDir, { recursive: true, force: true });
          const rgCold = summary(cold);
          const rgWarmPages = summary(coldWarmPages);
          peer = {
            name: peerCold.peer,
            coldPageCacheDropped: { p50Ms: peerCold.p50Ms, p99Ms: peerCold.p99Ms },
            pageCacheWarm: { p50Ms: peerWarmPages.p50Ms, p99Ms: peerWarmPages.p99Ms },
            // > 1: rg is faster. rg also verifies sha256s, PEFT checks nothing.
            ratioColdP50: peerCold.p50Ms / rgCold.p50,
            ratioPageCacheWarmP50: peerWarmPages.p50Ms / rgWarmPages.p50,
          };
        }

        const result = {
          bench: 'store',
          ...run.finish(),
          shape: { ...SMOLLM2, rank: flags.rank, targets: TARGETS.map((t) => t[0]), dtype: flags.dtype },
          count: flags.count,
          k: flags.k,
          requests: flags.requests,
          write: flags.reuse
            ? null
            : {
                adaptersPerS: Math.round((flags.count / writeS) * 10) / 10,
                mbPerS: Math.round((bytes / 1e6 / writeS) * 10) / 10,
                seconds: Math.round(writeS * 10) / 10,
                bytesPerAdapter: Math.round(bytes / flags.count),
              },
          // Where the fetches were timed: a fresh reader process (default, or this one under --reuse) or the writer.
          fetchProcess: flags.inProcess && !flags.reuse ? 'writer' : 'fresh',
          // How the fetches were made: lease + release (what inference does) or plain fetchAsync / fetch.
          fetchPath: flags.unleased ? 'fetchAsync' : 'lease',
          fetch: {
            warm: {
              wallMs: summary(warm),
              cpuMs: summary(cpuMs.warm),
              note: 'adapters in the in-memory LRU (manifest lookup + content-hash check only)',
            },
            coldPageCacheWarm: {
              wallMs: summary(coldWarmPages),
              cpuMs: summary(cpuMs.coldPageCacheWarm),
              note: 'LRU dropped; files in the OS page cache; read + sha256 + decode',
            },
            cold: {
              wallMs: summary(cold),
              cpuMs: summary(cpuMs.cold),
              note: evicted
                ? 'LRU dropped and each file evicted from the guest page cache (posix_fadvise DONTNEED via dd); a host-side cache may remain'
                : 'LRU dropped; evicting the page cache FAILED (dd iflag=nocache), so the page cache may be warm',
            },
            coldSync: {
              wallMs: summary(coldSync),
              cpuMs: summary(cpuMs.coldSync),
              note: 'as cold, through leaseSync (fetch with --unleased): files read one after another',
            },
            coldRawRead: {
              wallMs: summary(coldRawRead),
              cpuMs: summary(cpuMs.coldRawRead),
              note: 'evicted files (requests of its own) read into one reused buffer with nothing else: the disk alone, a floor for cold',
            },
          },
          composeCatMs: summary(catMs),
          dtypes,
          peer,
          goals: { warmP99Ms: 2, coldP99Ms: 20 },
        };
        if (flags.json) ctx.json(result);
        else ctx.print(JSON.stringify(result, null, 2));
      } finally {
        store.close();
        if (!flags.keep && !flags.reuse) rmSync(flags.dir ? dir : join(dir, '..'), { recursive: true, force: true });
      }
    });
}
