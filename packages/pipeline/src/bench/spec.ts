import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AugmentDataError } from '@rg/augment';
import type { BenchArgs, BenchSpec } from '@rg/bench-kit';
import { CorpusStore, STORE_FILE, StoreOpenError } from '@rg/corpus';
import { DatasetError } from '@rg/inference';
import { EMBEDDED_BACKENDS, type FieldWeights, parseFieldWeights } from '@rg/retriever';
import { ForeignFieldsError, fieldsFromAugmented } from '../build-index.js';
import { CLUSTER_BENCH_DEFAULTS, clusterBench } from './cluster.js';
import { BenchInputError } from './errors.js';
import {
  RETRIEVE_BENCH_DEFAULTS as d,
  type EmbeddedBackend,
  RETRIEVE_DATASET_FILES,
  type RetrieveBenchOptions,
  retrieveBench,
  retrievePeer,
  TAGGED_BACKENDS,
} from './retrieve.js';

const DATASET_SOURCES = {
  pubmedqa: 'PubMedQA PQA-L ori_pqal.json from github.com/pubmedqa/pubmedqa, data/',
  popqa: 'PopQA popqa.json, see ../shared/data/popqa/SOURCE.md',
};

/** `rg bench retrieve` and `nx run pipeline:bench retrieve`: recall and latency of the embedded backends. */
export const RETRIEVE_BENCH: BenchSpec = {
  name: 'retrieve',
  description:
    'retrieval on PubMedQA PQA-L (1,000 abstracts, gold = the question’s own abstract) or PopQA (its supporting Wikipedia paragraphs, gold = either of a question’s two): recall@1/3/10 (share of questions with a gold document in the top k), latency, ingest rate',
  flags: [
    { name: 'dataset', kind: 'choice', help: 'corpus and questions', choices: ['pubmedqa', 'popqa'], default: d.dataset },
    {
      name: 'split',
      kind: 'choice',
      value: '<split>',
      help: 'questions asked: dev, test (rg inference’s fixed splits) or all; the corpus is always whole',
      choices: ['dev', 'test', 'all'],
      default: d.split,
    },
    { name: 'data-dir', kind: 'path', value: '<dir>', help: 'folder holding pubmedqa/ and popqa/', default: '../shared/data' },
    {
      name: 'input',
      kind: 'path',
      value: '<file>',
      help: 'the dataset file (default DATA_DIR/pubmedqa/ori_pqal.json or DATA_DIR/popqa/popqa.json)',
    },
    {
      name: 'tags',
      kind: 'switch',
      help: `also measure ${TAGGED_BACKENDS.join(' and ')} with every document's tags and description indexed (the template augmenter's, unless --augmented)`,
    },
    {
      name: 'augmented',
      kind: 'path',
      value: '<file>',
      help: 'with --tags: take tags and descriptions from this augmented file (rg augment) instead',
    },
    {
      name: 'field-weights',
      kind: 'string',
      value: '<list>',
      help: 'with --tags: field weights of the tagged index, e.g. text=1,title=1,tags=0.5,description=0.5',
    },
    { name: 'backends', kind: 'list', help: `embedded backends to measure (${EMBEDDED_BACKENDS.join(', ')})`, default: d.backends },
    { name: 'scale', kind: 'count', help: 'also time BM25 with n generated passages added (0 = skip)', default: d.scale },
    {
      name: 'ann-scale',
      kind: 'count',
      help: 'also compare the HNSW index with exact sqlite-vec search on the real abstract vectors plus generated ones, up to n (0 = skip)',
      default: d.annScale,
    },
    { name: 'no-peer', kind: 'switch', help: 'skip the Python peer (tools/bench/retrieve_peer.py: bm25s, transformers)' },
  ],
  // A malformed dataset file is the user's to fix (exit 2), as a missing one.
  usageErrors: [BenchInputError, DatasetError],
  async run(a) {
    const dataset = a.str('dataset') as RetrieveBenchOptions['dataset'];
    const input = a.str('input') ?? join(a.str('data-dir')!, RETRIEVE_DATASET_FILES[dataset]);
    if (!existsSync(input)) a.usage(`--input ${input}: not found (${DATASET_SOURCES[dataset]})`);
    const [tags, augmented, weights] = [a.flag('tags'), a.str('augmented'), a.str('field-weights')];
    if ((augmented !== undefined || weights !== undefined) && !tags) a.usage('--augmented and --field-weights apply with --tags only');
    const backends = a.strs('backends') ?? [];
    if (tags && !backends.some((b) => (TAGGED_BACKENDS as readonly string[]).includes(b)))
      a.usage(`--tags measures ${TAGGED_BACKENDS.join(' or ')}: add one to --backends`);
    for (const b of backends)
      if (!(EMBEDDED_BACKENDS as readonly string[]).includes(b))
        a.usage(`--backends: unknown embedded backend "${b}" (expected ${EMBEDDED_BACKENDS.join(', ')})`);
    const run = a.start();
    const options: RetrieveBenchOptions = {
      dataset,
      split: a.str('split') as RetrieveBenchOptions['split'],
      input,
      backends: backends as EmbeddedBackend[],
      tags,
      augmented,
      readFields: (file, store) => readAugmented(a, file, store),
      fieldWeights: weights === undefined ? undefined : fieldWeights(a, weights),
      scale: a.num('scale'),
      annScale: a.num('ann-scale'),
      peer: a.flag('no-peer') ? undefined : retrievePeer(a.root),
      home: a.home,
      threads: a.threads,
    };
    // Measured first: the load at the end is read by finish().
    const result = await retrieveBench(options, a.say);
    return { bench: 'retrieve', ...run.finish(), ...result };
  },
};

function fieldWeights(a: BenchArgs, text: string): FieldWeights {
  try {
    return parseFieldWeights(text);
  } catch (e) {
    if (e instanceof RangeError) a.usage(`--field-weights: ${e.message}`);
    throw e;
  }
}

/** fieldsFromAugmented, with a missing, malformed or foreign file said as the user's mistake. */
async function readAugmented(a: BenchArgs, file: string, store: CorpusStore) {
  return fieldsFromAugmented(file, store).catch((e: unknown) =>
    e instanceof AugmentDataError || e instanceof ForeignFieldsError ? a.usage(`--augmented ${e.message}`) : Promise.reject(e),
  );
}

const c = CLUSTER_BENCH_DEFAULTS;

/** `rg bench cluster` and `nx run pipeline:bench cluster`: routing questions to clusters of the PubMedQA abstracts. */
export const CLUSTER_BENCH: BenchSpec = {
  name: 'cluster',
  description: 'cluster routing on PubMedQA PQA-L: gold abstract in the top-c routed clusters, per k; inertia, silhouette, fit time',
  flags: [
    {
      name: 'store',
      kind: 'path',
      value: '<dir>',
      required: true,
      help: 'corpus store of the PubMedQA abstracts (rg corpus ingest --format pubmedqa)',
    },
    {
      name: 'input',
      kind: 'path',
      value: '<file>',
      help: 'PubMedQA ori_pqal.json with the questions',
      default: '../shared/data/pubmedqa/ori_pqal.json',
    },
    { name: 'k-values', kind: 'ints', help: 'numbers of clusters', default: c.kValues },
    { name: 'top-c', kind: 'ints', help: 'clusters routed per question', default: c.topC },
    { name: 'seed', kind: 'count', value: '<s>', help: 'k-means seed', default: c.seed },
  ],
  usageErrors: [BenchInputError, DatasetError, StoreOpenError],
  async run(a) {
    const [input, dir] = [a.str('input')!, a.str('store')!];
    if (!existsSync(input)) a.usage(`--input ${input}: not found (PubMedQA PQA-L ori_pqal.json)`);
    const run = a.start();
    if (!existsSync(join(dir, STORE_FILE)))
      a.usage(`--store ${dir}: no document store there (expected ${STORE_FILE}; create it with rg corpus ingest --format pubmedqa)`);
    const store = CorpusStore.open(dir, { create: false });
    try {
      const options = { input, kValues: a.nums('k-values') ?? [], topC: a.nums('top-c') ?? [], seed: a.num('seed') };
      const result = await clusterBench({ ...options, store, home: a.home, threads: a.threads }, a.say);
      return { bench: 'cluster', ...run.finish(), ...result };
    } finally {
      store.close();
    }
  },
};
