import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { STORE_BENCH_DEFAULTS, type StoreBenchOptions, storeBench } from '@rg/adapter-store/bench';
import { ADAPTER_DTYPES } from '@rg/lora';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { positiveInt } from '../parse.js';
import { allowBusyOption, benchCommand, benchRun } from './bench.js';

// The measuring is @rg/adapter-store's (src/bench/store.ts, also `nx run adapter-store:bench`); this is its `rg` entry.

type Flags = Omit<StoreBenchOptions, 'peer' | 'onWrite'> & { peer: boolean; allowBusy?: boolean; json?: boolean };

export function registerBenchStore(program: Command, ctx: CliContext): void {
  const d = STORE_BENCH_DEFAULTS;
  benchCommand(program)
    .command('store')
    .description(
      'adapter store: write throughput, then p50/p99 latency of fetching k adapters (warm LRU, cold) from N SmolLM2-shaped adapters; PEFT loader as peer',
    )
    .option('--count <n>', 'adapters in the store', positiveInt, d.count)
    .option('--k <k>', 'adapters fetched per request', positiveInt, d.k)
    .option('--requests <n>', 'timed requests per mode', positiveInt, d.requests)
    .option('--rank <r>', 'LoRA rank', positiveInt, d.rank)
    .addOption(new Option('--dtype <dtype>', 'storage dtype of the adapters').choices(ADAPTER_DTYPES).default(d.dtype))
    .option('--dir <dir>', 'build the store here (must not exist; default: a temp folder)')
    .option('--keep', 'keep the store afterwards')
    .option('--reuse', 'time fetches on the store in --dir from an earlier --keep run (same --count/--rank/--dtype), writing nothing')
    .option('--in-process', 'time fetches in the process that wrote the store (default: a fresh reader process, as serving is)')
    .option('--unleased', 'time plain fetchAsync/fetch (a new buffer per cold load) instead of lease/release (recycled buffers)')
    .option('--no-peer', 'skip the PyTorch + PEFT peer (tools/bench/adapter_store_peer.py)')
    .addOption(allowBusyOption())
    .option('--json', 'print one JSON line')
    .action(async (flags: Flags, cmd: Command) => {
      ctx.config(cmd.optsWithGlobals());
      if (flags.k > flags.count) throw new UsageError(`--k ${flags.k} is larger than --count ${flags.count}`);
      const dir = flags.dir ? resolve(ctx.io.cwd, flags.dir) : undefined;
      if (flags.reuse && !(dir && existsSync(dir))) throw new UsageError('--reuse needs --dir with a store from an earlier --keep run');
      if (!flags.reuse && dir && existsSync(dir)) throw new UsageError(`--dir ${dir} exists: the benchmark writes a fresh store`);
      const run = benchRun(ctx, { allowBusy: flags.allowBusy ?? false });
      const bar = ctx.progress('bench store: write', flags.reuse ? 0 : flags.count, 'adapters', flags.json);
      const result = await storeBench(
        {
          ...flags,
          dir,
          peer: flags.peer
            ? { python: resolve(ctx.io.cwd, 'tools/.venv/bin/python'), script: resolve(ctx.io.cwd, 'tools/bench/adapter_store_peer.py') }
            : undefined,
          onWrite: () => bar.tick(),
        },
        // The writes are over by the first line said.
        (line) => {
          bar.stop();
          ctx.info(line);
        },
      );
      bar.stop();
      const out = { bench: 'store', ...run.finish(), ...result };
      if (flags.json) ctx.json(out);
      else ctx.print(JSON.stringify(out, null, 2));
    });
}
