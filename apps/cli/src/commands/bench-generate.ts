import { resolve } from 'node:path';
import { WEIGHT_FORMATS } from '@rg/engine';
import { GENERATE_BENCH_DEFAULTS, type GenerateWorkload, generateBatchBench, generateBench } from '@rg/engine/bench';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { intList, positiveInt } from '../parse.js';
import { allowBusyOption, benchCommand, benchRun } from './bench.js';

// The measuring is @rg/engine's (src/bench/generate.ts and generate-batch.ts, also `nx run engine:bench`); this is its
// `rg` entry.

type Flags = Omit<GenerateWorkload, 'model' | 'home' | 'threads'> & {
  peer: boolean;
  python: string;
  llamacpp?: boolean;
  batch?: number[];
  allowBusy?: boolean;
  json?: boolean;
};

export function registerBenchGenerate(program: Command, ctx: CliContext): void {
  const d = GENERATE_BENCH_DEFAULTS;
  benchCommand(program)
    .command('generate')
    .description(
      'prefill and decode tokens/s, with 0 and with k concatenated LoRA adapters, peak RSS; peer transformers generate (PyTorch CPU fp32)',
    )
    .option('--prompt-tokens <n>', 'prompt length (seeded random ids)', positiveInt, d.promptTokens)
    .option('--new-tokens <n>', 'greedy tokens generated per request', positiveInt, d.newTokens)
    .option('--runs <n>', 'timed requests per configuration (median reported), after one warm-up', positiveInt, d.runs)
    .option('--adapters <k>', 'adapters concatenated in the adapter configuration', positiveInt, d.adapters)
    .option('--rank <r>', 'rank of each adapter', positiveInt, d.rank)
    .addOption(new Option('--weights <format>', 'projection weights').choices(WEIGHT_FORMATS).default(d.weights))
    .option('--no-peer', 'skip the transformers peer')
    .option('--python <path>', 'Python with torch and transformers (tools/.venv)', 'tools/.venv/bin/python')
    .option(
      '--llamacpp',
      'also run llama.cpp (node-llama-cpp, tools/bench/generate_llamacpp.mjs; install: npm i --prefix tools/bench/llamacpp --ignore-scripts) on the same GGUF and prompt ids',
    )
    .option(
      '--batch <sizes>',
      'instead: batches of separate requests with their own adapters (e.g. 1,4,8), prefill and decode tokens/s per size, then the largest size of concurrent requests through the DecodeBatcher vs served one after another',
      intList,
    )
    .addOption(allowBusyOption())
    .option('--json', 'print one JSON line')
    .action(async ({ peer, python, llamacpp, batch, allowBusy, json, ...sizes }: Flags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const run = benchRun(ctx, { threads: config.threads, allowBusy: allowBusy ?? false });
      const workload = { model: config.model, home: config.home, threads: config.threads, ...sizes };
      const say = (line: string) => ctx.info(line);
      let out: object;
      if (batch) {
        if (batch.some((b) => b < 1)) throw new UsageError('--batch: sizes must be positive');
        const result = await generateBatchBench({ ...workload, batch }, say);
        out = { bench: 'generate', mode: 'batch', ...run.finish(), ...result };
      } else {
        const result = await generateBench(
          {
            ...workload,
            peer: peer ? { python: resolve(ctx.io.cwd, python), script: resolve(ctx.io.cwd, 'tools/bench/generate_peer.py') } : null,
            llamaCpp: llamacpp ? { script: resolve(ctx.io.cwd, 'tools/bench/generate_llamacpp.mjs') } : null,
          },
          say,
        );
        out = { bench: 'generate', ...run.finish(), ...result };
      }
      if (json) ctx.json(out);
      else ctx.print(JSON.stringify(out, null, 2));
    });
}
