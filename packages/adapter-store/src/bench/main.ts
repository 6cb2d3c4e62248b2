import { resolve } from 'node:path';
import { benchFlags, benchMain } from '@rg/bench-kit';
import { ADAPTER_DTYPES } from '@rg/lora';
import { STORE_BENCH_DEFAULTS, storeBench } from './store.js';

// `nx run adapter-store:bench` (node dist/bench/main.js): the store benchmark without the CLI; `rg bench store` runs
// the same function.
await benchMain({
  benches: ['store'],
  options: benchFlags(['count', 'k', 'requests', 'rank', 'dtype', 'dir'], ['keep', 'reuse', 'in-process', 'unleased', 'no-peer']),
  // storeBench's RangeErrors are its inputs' (k larger than the count of adapters).
  usageErrors: [RangeError],
  async run(bench, a) {
    const d = STORE_BENCH_DEFAULTS;
    const dtype = a.choice('dtype', ADAPTER_DTYPES, d.dtype);
    const options = {
      count: a.int('count', d.count),
      k: a.int('k', d.k),
      requests: a.int('requests', d.requests),
      rank: a.int('rank', d.rank),
      dtype,
      dir: a.path('dir'),
      keep: a.flag('keep'),
      reuse: a.flag('reuse'),
      inProcess: a.flag('in-process'),
      unleased: a.flag('unleased'),
      peer: a.flag('no-peer')
        ? undefined
        : { python: resolve(a.root, 'tools/.venv/bin/python'), script: resolve(a.root, 'tools/bench/adapter_store_peer.py') },
    };
    const run = a.start();
    const result = await storeBench(options, a.say);
    return { bench, ...run.finish(), ...result };
  },
});
