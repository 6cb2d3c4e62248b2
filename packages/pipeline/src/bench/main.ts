import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type BenchArgs, benchFlags, benchMain } from '@rg/bench-kit';
import { CorpusStore, StoreOpenError } from '@rg/corpus';
import { DatasetError } from '@rg/inference';
import { EMBEDDED_BACKENDS } from '@rg/retriever';
import { CLUSTER_BENCH_DEFAULTS, clusterBench } from './cluster.js';
import { BenchInputError } from './errors.js';
import { type EmbeddedBackend, RETRIEVE_BENCH_DEFAULTS, RETRIEVE_DATASET_FILES, retrieveBench, retrievePeer } from './retrieve.js';

// `nx run pipeline:bench [retrieve|cluster]` (node dist/bench/main.js): the retrieval and cluster-routing benchmarks
// without the CLI; `rg bench retrieve` and `rg bench cluster` run the same functions. The data folder defaults to the
// repository's ../shared/data.
await benchMain({
  benches: ['retrieve', 'cluster'],
  options: benchFlags(
    ['dataset', 'split', 'data-dir', 'input', 'backends', 'scale', 'ann-scale', 'store', 'k-values', 'top-c', 'seed'],
    ['tags', 'no-peer'],
  ),
  usageErrors: [BenchInputError, DatasetError, StoreOpenError],
  async run(bench, a) {
    const dataDir = a.path('data-dir') ?? resolve(a.root, '../shared/data');
    const input = (file: string) => {
      const path = a.path('input') ?? join(dataDir, file);
      return existsSync(path) ? path : a.usage(`--input ${path}: not found`);
    };
    return bench === 'cluster' ? cluster(a, input(RETRIEVE_DATASET_FILES.pubmedqa)) : retrieve(a, input);
  },
});

async function retrieve(a: BenchArgs, input: (file: string) => string) {
  const d = RETRIEVE_BENCH_DEFAULTS;
  const dataset = a.choice('dataset', ['pubmedqa', 'popqa'] as const, d.dataset);
  const split = a.choice('split', ['dev', 'test', 'all'] as const, d.split);
  const backends =
    a
      .string('backends')
      ?.split(',')
      .map((b) => b.trim()) ?? d.backends;
  for (const b of backends)
    if (!(EMBEDDED_BACKENDS as readonly string[]).includes(b)) a.usage(`--backends: one of ${EMBEDDED_BACKENDS.join(', ')}, got "${b}"`);
  const options = {
    dataset,
    split,
    input: input(RETRIEVE_DATASET_FILES[dataset]),
    backends: backends as EmbeddedBackend[],
    tags: a.flag('tags') || d.tags,
    scale: a.int('scale', d.scale, 0),
    annScale: a.int('ann-scale', d.annScale, 0),
    peer: a.flag('no-peer') ? undefined : retrievePeer(a.root),
    home: a.home,
    threads: a.threads,
  };
  const run = a.start();
  return { bench: 'retrieve', ...run.finish(), ...(await retrieveBench(options, a.say)) };
}

async function cluster(a: BenchArgs, input: string) {
  const dir = a.path('store') ?? a.usage('--store <dir>: the corpus store of the PubMedQA abstracts is required');
  const d = CLUSTER_BENCH_DEFAULTS;
  const options = { input, kValues: a.ints('k-values', d.kValues), topC: a.ints('top-c', d.topC), seed: a.int('seed', d.seed, 0) };
  const run = a.start();
  const store = CorpusStore.open(dir, { create: false });
  try {
    const result = await clusterBench({ ...options, store, home: a.home, threads: a.threads }, a.say);
    return { bench: 'cluster', ...run.finish(), ...result };
  } finally {
    store.close();
  }
}
