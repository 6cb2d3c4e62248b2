import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Summary, summary } from '@rg/bench-kit';
import { ADAPTER_DTYPES, type AdapterDtype, encodePeftAdapter, type LoraAdapter, type LoraPair, roundTripDtype } from '@rg/lora';
import { rng } from '@rg/lora/testing';
import { AdapterStore } from '../store.js';
import { benchKey, drawRequests, type FetchPlan, type FetchTimes, timeFetches } from './store-fetch.js';

/** SmolLM2-135M: 30 layers, hidden 576, intermediate 1536; the MLP targets the paper's setup uses. */
const SMOLLM2 = { layers: 30, hidden: 576, intermediate: 1536 };
const TARGETS: Array<[string, number, number]> = [
  ['gate_proj', SMOLLM2.hidden, SMOLLM2.intermediate],
  ['up_proj', SMOLLM2.hidden, SMOLLM2.intermediate],
  ['down_proj', SMOLLM2.intermediate, SMOLLM2.hidden],
];

export const STORE_BENCH_DEFAULTS = { count: 10_000, k: 3, requests: 300, rank: 2, dtype: 'fp32' as AdapterDtype };

export interface StoreBenchOptions {
  /** Adapters in the store. */
  count: number;
  /** Adapters fetched per request. */
  k: number;
  /** Timed requests per fetch mode. */
  requests: number;
  rank: number;
  /** Storage dtype of the adapters. */
  dtype: AdapterDtype;
  /** Build the store here (must not exist; default: a temp folder). With `reuse`: the store of an earlier `keep` run. */
  dir?: string;
  /** Keep the store afterwards. */
  keep?: boolean;
  /** Time fetches on the store in `dir` (same count, rank and dtype as the run that kept it), writing nothing. */
  reuse?: boolean;
  /** Time fetches in the process that wrote the store (default: a fresh reader process, as serving is). */
  inProcess?: boolean;
  /** Time plain fetchAsync / fetch (a new buffer per cold load) instead of lease / release (recycled buffers). */
  unleased?: boolean;
  /** The PyTorch + PEFT peer (tools/.venv/bin/python, tools/bench/adapter_store_peer.py); none: skipped. */
  peer?: { python: string; script: string };
  /** Called after each adapter written (a progress bar's tick). */
  onWrite?: () => void;
}

interface ModeFigures {
  wallMs: Summary;
  cpuMs: Summary;
  note: string;
}

/** The figures `rg bench store` prints (after the run record). */
export interface StoreBenchResult {
  shape: typeof SMOLLM2 & { rank: number; targets: string[]; dtype: AdapterDtype };
  count: number;
  k: number;
  requests: number;
  write: { adaptersPerS: number; mbPerS: number; seconds: number; bytesPerAdapter: number } | null;
  fetchProcess: 'writer' | 'fresh';
  fetchPath: 'fetchAsync' | 'lease';
  fetch: Record<'warm' | 'coldPageCacheWarm' | 'cold' | 'coldSync' | 'coldRawRead', ModeFigures>;
  composeCatMs: Summary;
  dtypes: Record<string, { bytesPerAdapter: number; maxRelativeError: number; logitChange: string }>;
  peer: Record<string, unknown>;
  goals: { warmP99Ms: number; coldP99Ms: number };
}

/**
 * Distinct adapters without generating 380k random numbers each: every adapter views a shared
 * random pool at its own offset.
 */
function adapterFactory(rank: number): (i: number) => LoraAdapter {
  const next = rng(42);
  const perAdapter = TARGETS.reduce((s, [, inF, outF]) => s + rank * inF + outF * rank, 0) * SMOLLM2.layers;
  const pool = Float32Array.from({ length: perAdapter + 65_536 }, () => next() * 0.01);
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

// From src/bench or dist/bench alike: node runs the compiled reader (build the package first).
const READER = fileURLToPath(new URL('../../dist/bench/store-reader.js', import.meta.url));

/** `timeFetches` in a new process on the same store and requests (store-reader.ts). */
function fetchInFreshProcess(dir: string, plan: FetchPlan & { unleased: boolean }): FetchTimes {
  if (!existsSync(READER)) throw new Error(`store bench: ${READER} is missing: build @rg/adapter-store first (pnpm build)`);
  const r = spawnSync(process.execPath, [READER, JSON.stringify({ dir, ...plan })], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`store bench: the reader process failed (${READER}): ${r.stderr.slice(-500)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as FetchTimes;
}

/** PEFT's load_peft_weights on the same adapter folders and requests, page cache dropped, then warm. */
function runPeer(
  peer: StoreBenchOptions['peer'],
  paths: string[][],
  rg: { cold: number[]; coldWarmPages: number[] },
  say: (line: string) => void,
): Record<string, unknown> {
  if (!peer) return { skipped: '--no-peer' };
  if (!existsSync(peer.python) || !existsSync(peer.script))
    return { skipped: `needs ${peer.python} and ${peer.script} (run from the repository root)` };
  say('bench store: peer (PEFT load_peft_weights)');
  const specDir = mkdtempSync(join(tmpdir(), 'rg-bench-store-peer-'));
  try {
    const spec = join(specDir, 'requests.json');
    const run = (drop: boolean) => {
      writeFileSync(spec, JSON.stringify({ drop_page_cache: drop, requests: paths }));
      const r = spawnSync(peer.python, [peer.script, spec], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`peer failed: ${r.stderr.slice(-500)}`);
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    };
    const peerCold = run(true);
    const peerWarmPages = run(false);
    return {
      name: peerCold.peer,
      coldPageCacheDropped: { p50Ms: peerCold.p50Ms, p99Ms: peerCold.p99Ms },
      pageCacheWarm: { p50Ms: peerWarmPages.p50Ms, p99Ms: peerWarmPages.p99Ms },
      // > 1: rg is faster. rg also verifies sha256s, PEFT checks nothing.
      ratioColdP50: peerCold.p50Ms / summary(rg.cold).p50,
      ratioPageCacheWarmP50: peerWarmPages.p50Ms / summary(rg.coldWarmPages).p50,
    };
  } finally {
    rmSync(specDir, { recursive: true, force: true });
  }
}

/**
 * The adapter store on N SmolLM2-shaped adapters: write throughput (durable puts), then the wall and CPU latency of
 * fetching k adapters per request, warm (LRU), cold with the page cache warm, cold with the files evicted, and the
 * disk alone; bytes and error of each storage dtype; PEFT's loader on the same requests as the peer.
 */
export async function storeBench(options: StoreBenchOptions, say: (line: string) => void = () => {}): Promise<StoreBenchResult> {
  const { count, k, rank, dtype, reuse = false, unleased = false } = options;
  if (k > count) throw new RangeError(`k ${k} is larger than count ${count}`);
  if (reuse && !(options.dir && existsSync(options.dir))) throw new RangeError('reuse needs dir with a store from an earlier keep run');
  if (!reuse && options.dir && existsSync(options.dir)) throw new RangeError(`${options.dir} exists: the benchmark writes a fresh store`);
  const dir = options.dir ?? join(mkdtempSync(join(tmpdir(), 'rg-bench-store-')), 'store');
  const plan = { count, k, requests: options.requests, rank, unleased };
  const make = adapterFactory(rank);
  const store = AdapterStore.open(dir);
  try {
    // Write throughput: every put is a durable, atomic write (fsync files + dirs, manifest commit).
    const writes = reuse ? 0 : count;
    let bytes = 0;
    const w0 = performance.now();
    for (let i = 0; i < writes; i++) {
      bytes += store.put(benchKey(rank, i), make(i), { modelFingerprint: 'bench', dtype }).bytes;
      options.onWrite?.();
    }
    const writeS = (performance.now() - w0) / 1000;

    const { requests, coldRequests } = drawRequests(plan);
    // A serving process opens an existing store: by default the fetches are timed in a fresh process, not in this
    // one, whose heap and page cache were just shaped by writing the whole store. (PEFT's peer runs in its own
    // process too.)
    const timed =
      reuse || options.inProcess ? await timeFetches(store, requests, coldRequests, unleased, say) : fetchInFreshProcess(dir, plan);
    const { warm, coldWarmPages, cold, coldSync, coldRawRead, catMs, cpuMs, evicted } = timed;

    const sample = make(0);
    const dtypes = Object.fromEntries(
      ADAPTER_DTYPES.map((d) => {
        const enc = encodePeftAdapter(sample, d);
        return [
          d,
          {
            bytesPerAdapter: enc.config.byteLength + enc.model.byteLength,
            maxRelativeError: relativeError(sample, roundTripDtype(sample, d)),
            logitChange: 'see rg bench adapter-dtype (runs the model)',
          },
        ];
      }),
    );

    const paths = requests.map((r) => r.map((key) => store.pathOf(key)));
    const peer = runPeer(options.peer, paths, { cold, coldWarmPages }, say);

    const mode = (walls: number[], cpu: number[], note: string): ModeFigures => ({ wallMs: summary(walls), cpuMs: summary(cpu), note });
    return {
      shape: { ...SMOLLM2, rank, targets: TARGETS.map((t) => t[0]), dtype },
      count,
      k,
      requests: options.requests,
      write: reuse
        ? null
        : {
            adaptersPerS: Math.round((count / writeS) * 10) / 10,
            mbPerS: Math.round((bytes / 1e6 / writeS) * 10) / 10,
            seconds: Math.round(writeS * 10) / 10,
            bytesPerAdapter: Math.round(bytes / count),
          },
      // Where the fetches were timed: a fresh reader process (default, or this one under reuse) or the writer.
      fetchProcess: options.inProcess && !reuse ? 'writer' : 'fresh',
      // How the fetches were made: lease + release (what inference does) or plain fetchAsync / fetch.
      fetchPath: unleased ? 'fetchAsync' : 'lease',
      fetch: {
        warm: mode(warm, cpuMs.warm, 'adapters in the in-memory LRU (manifest lookup + content-hash check only)'),
        coldPageCacheWarm: mode(coldWarmPages, cpuMs.coldPageCacheWarm, 'LRU dropped; files in the OS page cache; read + sha256 + decode'),
        cold: mode(
          cold,
          cpuMs.cold,
          evicted
            ? 'LRU dropped and each file evicted from the guest page cache (posix_fadvise DONTNEED via dd); a host-side cache may remain'
            : 'LRU dropped; evicting the page cache FAILED (dd iflag=nocache), so the page cache may be warm',
        ),
        coldSync: mode(coldSync, cpuMs.coldSync, 'as cold, through leaseSync (fetch with --unleased): files read one after another'),
        coldRawRead: mode(
          coldRawRead,
          cpuMs.coldRawRead,
          'evicted files (requests of its own) read into one reused buffer with nothing else: the disk alone, a floor for cold',
        ),
      },
      composeCatMs: summary(catMs),
      dtypes,
      peer,
      goals: { warmP99Ms: 2, coldP99Ms: 20 },
    };
  } finally {
    store.close();
    if (!options.keep && !reuse) rmSync(options.dir ? dir : join(dir, '..'), { recursive: true, force: true });
  }
}
