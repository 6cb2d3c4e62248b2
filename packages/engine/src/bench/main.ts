import { resolve } from 'node:path';
import { type BenchArgs, benchFlags, benchMain } from '@rg/bench-kit';
import { WEIGHT_FORMATS } from '../runtime/weights.js';
import { ADAPTER_DTYPE_BENCH_DEFAULTS, adapterDtypeBench } from './adapter-dtype.js';
import { GENERATE_BENCH_DEFAULTS, generateBench } from './generate.js';
import { generateBatchBench } from './generate-batch.js';
import { PeerSetupError } from './peer.js';

// `nx run engine:bench [generate|adapter-dtype]` (node dist/bench/main.js): the engine's benchmarks without the CLI;
// `rg bench generate` and `rg bench adapter-dtype` run the same functions.
await benchMain({
  benches: ['generate', 'adapter-dtype'],
  options: benchFlags(
    ['prompt-tokens', 'new-tokens', 'runs', 'adapters', 'rank', 'weights', 'batch', 'python', 'adapter', 'b-std', 'seed'],
    ['llamacpp', 'no-peer'],
  ),
  usageErrors: [PeerSetupError],
  async run(bench, a) {
    if (bench === 'adapter-dtype') {
      // Bytes and logit changes do not depend on load: it records the load and never refuses.
      const run = a.start({ allowBusy: true });
      const d = ADAPTER_DTYPE_BENCH_DEFAULTS;
      const result = await adapterDtypeBench({
        model: a.model,
        home: a.home,
        threads: a.threads,
        adapter: a.path('adapter'),
        rank: a.int('rank', d.rank),
        bStd: a.positive('b-std', d.bStd),
        seed: a.int('seed', d.seed),
      });
      return { bench, ...run.finish(), ...result };
    }
    return generate(a);
  },
});

async function generate(a: BenchArgs) {
  const g = GENERATE_BENCH_DEFAULTS;
  const workload = {
    model: a.model,
    home: a.home,
    threads: a.threads,
    promptTokens: a.int('prompt-tokens', g.promptTokens),
    newTokens: a.int('new-tokens', g.newTokens),
    runs: a.int('runs', g.runs),
    adapters: a.int('adapters', g.adapters),
    rank: a.int('rank', g.rank),
    weights: a.choice('weights', WEIGHT_FORMATS, g.weights),
  };
  if (a.string('batch') !== undefined) {
    const batch = a.ints('batch', []);
    const run = a.start();
    return { bench: 'generate', mode: 'batch', ...run.finish(), ...(await generateBatchBench({ ...workload, batch }, a.say)) };
  }
  const python = a.path('python') ?? resolve(a.root, 'tools/.venv/bin/python');
  const run = a.start();
  const result = await generateBench(
    {
      ...workload,
      peer: a.flag('no-peer') ? null : { python, script: resolve(a.root, 'tools/bench/generate_peer.py') },
      llamaCpp: a.flag('llamacpp') ? { script: resolve(a.root, 'tools/bench/generate_llamacpp.mjs') } : null,
    },
    a.say,
  );
  return { bench: 'generate', ...run.finish(), ...result };
}
