import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BusyMachineError, startRun } from '@rg/bench-kit';
import { CorpusStore, StoreOpenError } from '@rg/corpus';
import { DatasetError } from '@rg/inference';
import { EMBEDDED_BACKENDS } from '@rg/retriever';
import { CLUSTER_BENCH_DEFAULTS, clusterBench } from './cluster.js';
import { BenchInputError } from './errors.js';
import { type EmbeddedBackend, RETRIEVE_BENCH_DEFAULTS, RETRIEVE_DATASET_FILES, retrieveBench, retrievePeer } from './retrieve.js';

// `nx run pipeline:bench [retrieve|cluster]` (node dist/bench/main.js): the retrieval and cluster-routing benchmarks
// without the CLI; `rg bench retrieve` and `rg bench cluster` run the same functions. The data folder and the peer
// default to the repository's, whatever folder Nx runs this in.
const root = resolve(import.meta.dirname, '../../../..');
// As the rg CLI: RG_HOME and RG_THREADS when set (an empty value is unset), else its defaults.
const home = process.env.RG_HOME || join(homedir(), '.cache', 'rg');
let bench = 'retrieve';
const usage = (message: string): never => {
  process.stderr.write(`bench ${bench}: ${message}\n`);
  process.exit(2);
};
const count = (name: string, raw: string | undefined, fallback: number, min = 0) => {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) usage(`--${name}: expected an integer ≥ ${min}, got "${raw}"`);
  return Number(raw);
};
const existing = (file: string) => (existsSync(file) ? file : usage(`--input ${file}: not found`));
const counts = (name: string, raw: string | undefined, fallback: readonly number[]) =>
  raw === undefined ? fallback : raw.split(',').map((s) => count(name, s.trim(), 0, 1));

function parse() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        dataset: { type: 'string' },
        split: { type: 'string' },
        'data-dir': { type: 'string' },
        input: { type: 'string' },
        backends: { type: 'string' },
        tags: { type: 'boolean' },
        scale: { type: 'string' },
        'ann-scale': { type: 'string' },
        store: { type: 'string' },
        'k-values': { type: 'string' },
        'top-c': { type: 'string' },
        seed: { type: 'string' },
        threads: { type: 'string' },
        'no-peer': { type: 'boolean' },
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
if (positionals.length > 1 || !['retrieve', 'cluster'].includes(bench))
  usage(`expected one of retrieve, cluster, got "${positionals.join(' ')}"`);
const threads = count('threads', values.threads ?? process.env.RG_THREADS, 2, 1);
const dataDir = resolve(values['data-dir'] ?? resolve(root, '../shared/data'));
const say = (line: string) => process.stderr.write(`${line}\n`);

async function retrieve() {
  const dataset = values.dataset ?? RETRIEVE_BENCH_DEFAULTS.dataset;
  if (dataset !== 'pubmedqa' && dataset !== 'popqa') return usage(`--dataset: pubmedqa or popqa, got "${dataset}"`);
  const split = values.split ?? RETRIEVE_BENCH_DEFAULTS.split;
  if (split !== 'dev' && split !== 'test' && split !== 'all') return usage(`--split: dev, test or all, got "${split}"`);
  const backends = values.backends?.split(',').map((b) => b.trim()) ?? RETRIEVE_BENCH_DEFAULTS.backends;
  for (const b of backends)
    if (!(EMBEDDED_BACKENDS as readonly string[]).includes(b)) usage(`--backends: one of ${EMBEDDED_BACKENDS.join(', ')}, got "${b}"`);
  return retrieveBench(
    {
      dataset,
      split,
      input: existing(resolve(values.input ?? join(dataDir, RETRIEVE_DATASET_FILES[dataset]))),
      backends: backends as EmbeddedBackend[],
      tags: values.tags ?? RETRIEVE_BENCH_DEFAULTS.tags,
      scale: count('scale', values.scale, RETRIEVE_BENCH_DEFAULTS.scale),
      annScale: count('ann-scale', values['ann-scale'], RETRIEVE_BENCH_DEFAULTS.annScale),
      peer: values['no-peer'] ? undefined : retrievePeer(root),
      home,
      threads,
    },
    say,
  );
}

async function cluster() {
  if (values.store === undefined) return usage('--store <dir>: the corpus store of the PubMedQA abstracts is required');
  const store = CorpusStore.open(resolve(values.store), { create: false });
  try {
    return await clusterBench(
      {
        store,
        input: existing(resolve(values.input ?? join(dataDir, RETRIEVE_DATASET_FILES.pubmedqa))),
        kValues: counts('k-values', values['k-values'], CLUSTER_BENCH_DEFAULTS.kValues),
        topC: counts('top-c', values['top-c'], CLUSTER_BENCH_DEFAULTS.topC),
        seed: count('seed', values.seed, CLUSTER_BENCH_DEFAULTS.seed),
        home,
        threads,
      },
      say,
    );
  } finally {
    store.close();
  }
}

try {
  const run = startRun({ cwd: root, threads, allowBusy: values['allow-busy'] ?? false });
  const result = bench === 'cluster' ? await cluster() : await retrieve();
  const out = { bench, ...run.finish(), ...result };
  process.stdout.write(`${values.json ? JSON.stringify(out) : JSON.stringify(out, null, 2)}\n`);
} catch (e) {
  if (e instanceof BusyMachineError || e instanceof BenchInputError || e instanceof DatasetError || e instanceof StoreOpenError)
    usage(e.message);
  throw e;
}
