import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BusyMachineError, startRun } from '@rg/bench-kit';
import { DEFAULT_MODEL, defaultHome } from '../model/pull.js';
import type { WeightFormat } from '../runtime/weights.js';
import { ADAPTER_DTYPE_BENCH_DEFAULTS, adapterDtypeBench } from './adapter-dtype.js';
import { GENERATE_BENCH_DEFAULTS, generateBench } from './generate.js';
import { generateBatchBench } from './generate-batch.js';
import { PeerSetupError } from './peer.js';

// `nx run engine:bench [generate|adapter-dtype]` (node dist/bench/main.js): the engine's benchmarks without the CLI;
// `rg bench generate` and `rg bench adapter-dtype` run the same functions. The peers default to the repository's,
// whatever folder Nx runs this in.
const root = resolve(import.meta.dirname, '../../../..');
let bench = 'generate';
const usage = (message: string): never => {
  process.stderr.write(`bench ${bench}: ${message}\n`);
  process.exit(2);
};
const positive = (name: string, raw: string | undefined, fallback: number) => {
  if (raw === undefined) return fallback;
  if (!/^[1-9]\d*$/.test(raw)) usage(`--${name}: expected a positive integer, got "${raw}"`);
  return Number(raw);
};

function parse() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        threads: { type: 'string' },
        'prompt-tokens': { type: 'string' },
        'new-tokens': { type: 'string' },
        runs: { type: 'string' },
        adapters: { type: 'string' },
        rank: { type: 'string' },
        weights: { type: 'string' },
        batch: { type: 'string' },
        python: { type: 'string' },
        llamacpp: { type: 'boolean' },
        'no-peer': { type: 'boolean' },
        adapter: { type: 'string' },
        'b-std': { type: 'string' },
        seed: { type: 'string' },
        'allow-busy': { type: 'boolean' },
        json: { type: 'boolean' },
      },
    });
  } catch (e) {
    return usage((e as Error).message);
  }
}
const { values, positionals } = parse();
bench = positionals[0] ?? bench;
if (positionals.length > 1 || !['generate', 'adapter-dtype'].includes(bench))
  usage(`expected one of generate, adapter-dtype, got "${positionals.join(' ')}"`);
// As the rg CLI: RG_MODEL, RG_HOME and RG_THREADS when set (an empty value is unset), else its defaults.
const model = values.model ?? (process.env.RG_MODEL || DEFAULT_MODEL);
const home = defaultHome();
const threads = positive('threads', values.threads ?? (process.env.RG_THREADS || undefined), 2);
const say = (line: string) => process.stderr.write(`${line}\n`);

function generate() {
  const g = GENERATE_BENCH_DEFAULTS;
  const weights = (values.weights ?? g.weights) as WeightFormat;
  if (weights !== 'f32' && weights !== 'q4') usage(`--weights: f32 or q4, got "${weights}"`);
  const workload = {
    model,
    home,
    threads,
    promptTokens: positive('prompt-tokens', values['prompt-tokens'], g.promptTokens),
    newTokens: positive('new-tokens', values['new-tokens'], g.newTokens),
    runs: positive('runs', values.runs, g.runs),
    adapters: positive('adapters', values.adapters, g.adapters),
    rank: positive('rank', values.rank, g.rank),
    weights,
  };
  if (values.batch !== undefined) {
    const batch = values.batch.split(',').map((b) => positive('batch', b.trim(), 0));
    return generateBatchBench({ ...workload, batch }, say);
  }
  const python = values.python === undefined ? resolve(root, 'tools/.venv/bin/python') : resolve(values.python);
  return generateBench(
    {
      ...workload,
      peer: values['no-peer'] ? null : { python, script: resolve(root, 'tools/bench/generate_peer.py') },
      llamaCpp: values.llamacpp ? { script: resolve(root, 'tools/bench/generate_llamacpp.mjs') } : null,
    },
    say,
  );
}

function adapterDtype() {
  const d = ADAPTER_DTYPE_BENCH_DEFAULTS;
  const bStd = values['b-std'] === undefined ? d.bStd : Number(values['b-std']);
  if (!(bStd > 0)) usage(`--b-std: expected a number greater than 0, got "${values['b-std']}"`);
  return adapterDtypeBench({
    model,
    home,
    threads,
    adapter: values.adapter === undefined ? undefined : resolve(values.adapter),
    rank: positive('rank', values.rank, d.rank),
    bStd,
    seed: positive('seed', values.seed, d.seed),
  });
}

try {
  // Bytes and logit changes do not depend on load: adapter-dtype records it and never refuses.
  const run = startRun({ cwd: root, threads, allowBusy: bench === 'adapter-dtype' || (values['allow-busy'] ?? false) });
  const head = bench === 'generate' && values.batch !== undefined ? { bench, mode: 'batch' } : { bench };
  const result = bench === 'adapter-dtype' ? await adapterDtype() : await generate();
  const out = { ...head, ...run.finish(), ...result };
  process.stdout.write(`${values.json ? JSON.stringify(out) : JSON.stringify(out, null, 2)}\n`);
} catch (e) {
  if (e instanceof BusyMachineError || e instanceof PeerSetupError) usage(e.message);
  throw e;
}
