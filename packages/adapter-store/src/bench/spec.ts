import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BenchSpec } from '@rg/bench-kit';
import { ADAPTER_DTYPES, type AdapterDtype } from '@rg/lora';
import { STORE_BENCH_DEFAULTS as d, storeBench } from './store.js';

/** `rg bench store` and `nx run adapter-store:bench`: write throughput and fetch latency against PEFT's loader. */
export const STORE_BENCH: BenchSpec = {
  name: 'store',
  description:
    'adapter store: write throughput, then p50/p99 latency of fetching k adapters (warm LRU, cold) from N SmolLM2-shaped adapters; PEFT loader as peer',
  flags: [
    { name: 'count', kind: 'int', help: 'adapters in the store', default: d.count },
    { name: 'k', kind: 'int', value: '<k>', help: 'adapters fetched per request', default: d.k },
    { name: 'requests', kind: 'int', help: 'timed requests per mode', default: d.requests },
    { name: 'rank', kind: 'int', value: '<r>', help: 'LoRA rank', default: d.rank },
    { name: 'dtype', kind: 'choice', value: '<dtype>', help: 'storage dtype of the adapters', choices: ADAPTER_DTYPES, default: d.dtype },
    { name: 'dir', kind: 'path', value: '<dir>', help: 'build the store here (must not exist; default: a temp folder)' },
    { name: 'keep', kind: 'switch', help: 'keep the store afterwards' },
    {
      name: 'reuse',
      kind: 'switch',
      help: 'time fetches on the store in --dir from an earlier --keep run (same --count/--rank/--dtype), writing nothing',
    },
    {
      name: 'in-process',
      kind: 'switch',
      help: 'time fetches in the process that wrote the store (default: a fresh reader process, as serving is)',
    },
    {
      name: 'unleased',
      kind: 'switch',
      help: 'time plain fetchAsync/fetch (a new buffer per cold load) instead of lease/release (recycled buffers)',
    },
    { name: 'no-peer', kind: 'switch', help: 'skip the PyTorch + PEFT peer (tools/bench/adapter_store_peer.py)' },
  ],
  async run(a) {
    const [count, k, dir, reuse] = [a.num('count'), a.num('k'), a.str('dir'), a.flag('reuse')];
    if (k > count) a.usage(`--k ${k} is larger than --count ${count}`);
    if (reuse && !(dir && existsSync(dir))) a.usage('--reuse needs --dir with a store from an earlier --keep run');
    if (!reuse && dir && existsSync(dir)) a.usage(`--dir ${dir} exists: the benchmark writes a fresh store`);
    const run = a.start();
    const bar = a.progress('bench store: write', reuse ? 0 : count, 'adapters');
    try {
      const result = await storeBench(
        {
          count,
          k,
          requests: a.num('requests'),
          rank: a.num('rank'),
          dtype: a.str('dtype') as AdapterDtype,
          dir,
          keep: a.flag('keep'),
          reuse,
          inProcess: a.flag('in-process'),
          unleased: a.flag('unleased'),
          peer: a.flag('no-peer')
            ? undefined
            : { python: resolve(a.root, 'tools/.venv/bin/python'), script: resolve(a.root, 'tools/bench/adapter_store_peer.py') },
          onWrite: () => bar.tick(),
        },
        // The writes are over by the first line said.
        (line) => {
          bar.stop();
          a.say(line);
        },
      );
      return { bench: 'store', ...run.finish(), ...result };
    } finally {
      bar.stop();
    }
  },
};
