import { resolve } from 'node:path';
import type { BenchArgs, BenchSpec } from '@rg/bench-kit';
import { WEIGHT_FORMATS, type WeightFormat } from '../runtime/weights.js';
import { ADAPTER_DTYPE_BENCH_DEFAULTS, adapterDtypeBench } from './adapter-dtype.js';
import { GENERATE_BENCH_DEFAULTS as g, generateBench } from './generate.js';
import { generateBatchBench } from './generate-batch.js';
import { PeerSetupError } from './peer.js';

/** `rg bench generate` and `nx run engine:bench generate`: prefill and decode against transformers and llama.cpp. */
export const GENERATE_BENCH: BenchSpec = {
  name: 'generate',
  description:
    'prefill and decode tokens/s, with 0 and with k concatenated LoRA adapters, peak RSS; peer transformers generate (PyTorch CPU fp32)',
  flags: [
    { name: 'prompt-tokens', kind: 'int', help: 'prompt length (seeded random ids)', default: g.promptTokens },
    { name: 'new-tokens', kind: 'int', help: 'greedy tokens generated per request', default: g.newTokens },
    { name: 'runs', kind: 'int', help: 'timed requests per configuration (median reported), after one warm-up', default: g.runs },
    { name: 'adapters', kind: 'int', help: 'adapters concatenated in the adapter configuration', value: '<k>', default: g.adapters },
    { name: 'rank', kind: 'int', help: 'rank of each adapter', value: '<r>', default: g.rank },
    {
      name: 'weights',
      kind: 'choice',
      help: 'projection weights (q8: rg generate’s default; f32: exact)',
      value: '<format>',
      choices: WEIGHT_FORMATS,
      default: g.weights,
    },
    { name: 'no-peer', kind: 'switch', help: 'skip the transformers peer' },
    { name: 'python', kind: 'path', help: 'Python with torch and transformers', default: 'tools/.venv/bin/python' },
    {
      name: 'llamacpp',
      kind: 'switch',
      help: 'also run llama.cpp (node-llama-cpp, tools/bench/generate_llamacpp.mjs; install: npm i --prefix tools/bench/llamacpp --ignore-scripts) on the same GGUF and prompt ids',
    },
    {
      name: 'batch',
      kind: 'ints',
      value: '<sizes>',
      help: 'instead: batches of separate requests with their own adapters (e.g. 1,4,8), prefill and decode tokens/s per size, then the largest size of concurrent requests through the DecodeBatcher vs served one after another',
    },
  ],
  usageErrors: [PeerSetupError],
  async run(a: BenchArgs) {
    const workload = {
      model: a.model,
      home: a.home,
      threads: a.threads,
      promptTokens: a.num('prompt-tokens'),
      newTokens: a.num('new-tokens'),
      runs: a.num('runs'),
      adapters: a.num('adapters'),
      rank: a.num('rank'),
      weights: a.str('weights') as WeightFormat,
    };
    const batch = a.nums('batch');
    const run = a.start();
    if (batch) {
      // Measured first: the load at the end is read by finish().
      const result = await generateBatchBench({ ...workload, batch }, a.say);
      return { bench: 'generate', mode: 'batch', ...run.finish(), ...result };
    }
    const result = await generateBench(
      {
        ...workload,
        peer: a.flag('no-peer') ? null : { python: a.str('python')!, script: resolve(a.root, 'tools/bench/generate_peer.py') },
        llamaCpp: a.flag('llamacpp') ? { script: resolve(a.root, 'tools/bench/generate_llamacpp.mjs') } : null,
      },
      a.say,
    );
    return { bench: 'generate', ...run.finish(), ...result };
  },
};

const d = ADAPTER_DTYPE_BENCH_DEFAULTS;

/** `rg bench adapter-dtype`: what each storage dtype costs in bytes and in the model's logits. */
export const ADAPTER_DTYPE_BENCH: BenchSpec = {
  name: 'adapter-dtype',
  description: "storage dtypes of an adapter (fp32, fp16, int8): bytes, and the change in the model's next-token logits each causes",
  flags: [
    {
      name: 'adapter',
      kind: 'path',
      value: '<dir>',
      help: 'a PEFT LoRA folder to measure (default: a random rank-r adapter on gate/up/down)',
    },
    { name: 'rank', kind: 'int', value: '<r>', help: 'rank of the random adapter', default: d.rank },
    { name: 'b-std', kind: 'number', value: '<s>', help: 'standard deviation of the random adapter B', default: d.bStd },
    { name: 'seed', kind: 'int', value: '<s>', help: 'seed of the random adapter', default: d.seed },
  ],
  // Bytes and logit changes do not depend on load: it records the load and never refuses.
  loadFree: true,
  async run(a) {
    const run = a.start({ allowBusy: true });
    const result = await adapterDtypeBench({
      model: a.model,
      home: a.home,
      threads: a.threads,
      adapter: a.str('adapter'),
      rank: a.num('rank'),
      bStd: a.num('b-std'),
      seed: a.num('seed'),
    });
    return { bench: 'adapter-dtype', ...run.finish(), ...result };
  },
};
