import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { composeCat, readFileInto } from '@rg/lora';
import { rng } from '@rg/lora/testing';
import type { DocAdapterKey } from '../layout.js';
import { AdapterStore } from '../store.js';

// The fetch part of the store benchmark: warm, cold (page cache warm or evicted) and raw-disk reads of k adapters per
// request. It runs in the process that wrote the store, or in a fresh one (store-reader.ts) that opens it as a server
// would.

/** The key of the benchmark's i-th adapter. */
export function benchKey(rank: number, i: number): DocAdapterKey {
  return { model: 'smollm2-135m-instruct', rank, alpha: 4 * rank, dataset: 'bench', lr: 0.0003, epochs: 1, id: `doc-${i}` };
}

/** What to fetch: the store's size and rank, `k` distinct adapters per request, `requests` timed requests per mode. */
export interface FetchPlan {
  count: number;
  k: number;
  requests: number;
  rank: number;
}

/**
 * The requests of a run, drawn from a fixed seed so that a reader process draws the very requests of its parent:
 * one warm-up request then the timed ones, and requests of its own for each of the three cold modes.
 */
export function drawRequests(plan: FetchPlan): { requests: DocAdapterKey[][]; coldRequests: DocAdapterKey[][][] } {
  const pick = rng(7);
  const draw = (n: number) =>
    Array.from({ length: n }, () => {
      const ids = new Set<number>();
      // rng is uniform in [-1, 1).
      while (ids.size < plan.k) ids.add(Math.floor(((pick() + 1) / 2) * plan.count));
      return [...ids].map((i) => benchKey(plan.rank, i));
    });
  const requests = draw(plan.requests + 1);
  // Each cold mode reads its own random requests: read right after another mode read (and evicted) the
  // same files, fetches measured slower and noisier than reads of files untouched since they were written.
  return { requests, coldRequests: [draw(plan.requests), draw(plan.requests), draw(plan.requests)] };
}

/** Evict a folder's files from the OS page cache (GNU dd iflag=nocache: posix_fadvise DONTNEED). */
function dropPageCache(dir: string): boolean {
  let ok = true;
  for (const f of readdirSync(dir)) {
    const r = spawnSync('dd', [`if=${join(dir, f)}`, 'iflag=nocache', 'count=0', 'status=none']);
    ok &&= r.status === 0;
  }
  return ok;
}

let scratch = Buffer.alloc(0);
/** A buffer kept from call to call, so that timing the disk allocates nothing. */
function scratchOf(size: number): Buffer {
  if (scratch.byteLength < size) scratch = Buffer.allocUnsafeSlow(size);
  return scratch.subarray(0, size);
}

/** The wall and CPU milliseconds of each fetch mode, and of composing one request's adapters. */
export interface FetchTimes {
  warm: number[];
  coldWarmPages: number[];
  cold: number[];
  coldSync: number[];
  coldRawRead: number[];
  catMs: number[];
  cpuMs: Record<string, number[]>;
  evicted: boolean;
}

export async function timeFetches(
  store: AdapterStore,
  requests: DocAdapterKey[][],
  coldRequests: DocAdapterKey[][][],
  unleased: boolean,
  say: (line: string) => void = () => {},
): Promise<FetchTimes> {
  // Wall time, and this process's CPU time (user + system), which the other jobs on a shared
  // machine inflate far less than wall time.
  const cpuMs: Record<string, number[]> = {};
  // Requests go through `lease` + `release`, the path inference uses (the k adapters' files are read
  // concurrently, into buffers recycled from adapters that left the LRU); `coldSync` times `leaseSync` on cold
  // requests of its own for comparison. `unleased`: plain fetchAsync / fetch, which allocate per cold load.
  const walls: Record<string, number[]> = {};
  const timeOne = async (mode: string, read: (keys: DocAdapterKey[]) => unknown, keys: DocAdapterKey[]) => {
    walls[mode] ??= [];
    cpuMs[mode] ??= [];
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await read(keys);
    walls[mode].push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpuMs[mode].push((c.user + c.system) / 1000);
  };
  const opts = { modelFingerprint: 'bench' };
  const fetchAsync = unleased
    ? (keys: DocAdapterKey[]) => store.fetchAsync(keys, opts)
    : async (keys: DocAdapterKey[]) => (await store.lease(keys, opts)).release();
  const fetchSync = unleased
    ? (keys: DocAdapterKey[]) => store.fetch(keys, opts)
    : (keys: DocAdapterKey[]) => store.leaseSync(keys, opts).release();
  // Every file of the requests' adapters read with nothing else: warms the page cache, or times the disk alone.
  const readFiles = (keys: DocAdapterKey[]) => {
    for (const k of keys) for (const f of readdirSync(store.pathOf(k))) readFileInto(join(store.pathOf(k), f), scratchOf);
  };
  const time = async (mode: string, before: (keys: DocAdapterKey[]) => void) => {
    for (const keys of requests.slice(1)) {
      before(keys);
      await timeOne(mode, fetchAsync, keys);
    }
    return walls[mode];
  };
  await fetchAsync(requests[0]); // warm-up: code paths, allocator

  say('bench store: warm fetches');
  const warm = await time('warm', fetchSync);
  say('bench store: cold fetches (LRU dropped, page cache warm)');
  const coldWarmPages = await time('coldPageCacheWarm', (keys) => {
    store.dropCache();
    readFiles(keys);
  });
  say('bench store: cold fetches (LRU dropped, files evicted from the page cache)');
  let evicted = true;
  const evict = (keys: DocAdapterKey[]) => {
    store.dropCache();
    for (const k of keys) evicted &&= dropPageCache(store.pathOf(k));
  };
  // The three cold modes take turns, in a rotating order, so that none of them always comes first and load
  // changes hit all of them alike; each has its own requests (same distribution). `coldRawRead` is the disk's
  // floor: evicted files read with nothing else (no manifest, hash or decode), so the cold figures split into
  // what the disk costs and what the store adds.
  const coldModes: [string, (keys: DocAdapterKey[]) => unknown][] = [
    ['cold', fetchAsync],
    ['coldSync', fetchSync],
    ['coldRawRead', readFiles],
  ];
  for (let i = 0; i < coldRequests[0].length; i++) {
    for (let j = 0; j < coldModes.length; j++) {
      const m = (i + j) % coldModes.length;
      evict(coldRequests[m][i]);
      await timeOne(coldModes[m][0], coldModes[m][1], coldRequests[m][i]);
    }
  }
  const { cold, coldSync, coldRawRead } = walls;

  const fetched = store.fetch(requests[1]);
  const catMs = Array.from({ length: 20 }, () => {
    const t0 = performance.now();
    composeCat(fetched.map((adapter) => ({ adapter })));
    return performance.now() - t0;
  });

  return { warm, coldWarmPages, cold, coldSync, coldRawRead, catMs, cpuMs, evicted };
}

/** Opens the store in `dir` (written by an earlier run with the same plan), times the plan's fetches, closes it. */
export async function timeStoreFetches(
  dir: string,
  plan: FetchPlan & { unleased: boolean },
  say?: (line: string) => void,
): Promise<FetchTimes> {
  const store = AdapterStore.open(dir, { create: false });
  try {
    const { requests, coldRequests } = drawRequests(plan);
    return await timeFetches(store, requests, coldRequests, plan.unleased, say);
  } finally {
    store.close();
  }
}
