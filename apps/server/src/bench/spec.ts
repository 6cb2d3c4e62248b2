import { resolve } from 'node:path';
import type { BenchRun, BenchSpec } from '@rg/bench-kit';
import { WEIGHT_FORMATS, type WeightFormat } from '@rg/engine';
import { popqaDocument } from './add.js';
import { SERVE_BENCH_DEFAULTS as d, readDemo, SERVE_BENCH_PARTS, type ServeBenchPart, serveBench } from './serve.js';

// `rg demo`'s documents (apps/cli/demo): small ones that encode in seconds each. This file is apps/server/{src,dist}/bench.
const DEMO_DIR = resolve(import.meta.dirname, '../../../cli/demo');

/** `rg bench serve` and `nx run server:bench`: the HTTP server on loopback, against in-process answering. */
export const SERVE_BENCH: BenchSpec = {
  name: 'serve',
  description:
    'the HTTP server in-process on loopback: overhead over in-process answering, adapter fetch+compose, concurrency 1/4/16, batched vs unbatched decoding across adapter sets, time from adding a document to an answer with its adapter',
  flags: [
    {
      name: 'collection',
      kind: 'path',
      value: '<dir>',
      help: 'collection to serve (created with the demo documents when missing, reused after); default <home>/collections/bench-serve',
    },
    { name: 'demo-dir', kind: 'path', value: '<dir>', help: 'the documents and questions of the collection', default: DEMO_DIR },
    {
      name: 'data-dir',
      kind: 'path',
      value: '<dir>',
      help: 'folder holding popqa/ (the ~200-word document of the add part)',
      default: '../shared/data',
    },
    {
      name: 'requests',
      kind: 'int',
      help: 'requests per measurement of the overhead and concurrency parts (concurrency 16: twice as many)',
      default: d.requests,
    },
    { name: 'max-new-tokens', kind: 'int', help: 'max_tokens of the overhead, concurrency and add parts', default: d.maxNewTokens },
    { name: 'batch', kind: 'int', help: 'the served --batch (rows decoded together)', default: d.batch },
    { name: 'worker', kind: 'switch', help: 'serve with rg serve --worker (decoding in a worker thread)' },
    {
      name: 'weights',
      kind: 'choice',
      value: '<format>',
      help: "serve with rg serve --weights (the answering model's projection weights)",
      choices: WEIGHT_FORMATS,
      default: 'f32',
    },
    { name: 'no-warm', kind: 'switch', help: "serve with rg serve --no-warm: the adapters' first uses read them from disk" },
    {
      name: 'training-pause',
      kind: 'count',
      value: '<s>',
      help: 'add part: the served --training-pause compared with 0 (training that does not yield to answers)',
      default: d.trainingPause,
    },
    {
      name: 'compare-batch',
      kind: 'ints',
      value: '<sizes>',
      help: 'batching part: the --batch values compared (default 1 and --batch); 1 is sequential serving',
    },
    { name: 'clients', kind: 'int', help: 'batching part: concurrent clients, each with its own adapters', default: d.clients },
    { name: 'decode-tokens', kind: 'int', help: 'batching part: max_tokens per request', default: d.decodeTokens },
    {
      name: 'rounds',
      kind: 'int',
      help: 'batching part: timed rounds per --batch value (median), after a warm-up round',
      default: d.rounds,
    },
    {
      name: 'max-seconds',
      kind: 'int',
      value: '<s>',
      help: 'time bound of each measurement: no request is sent after it',
      default: d.maxSeconds,
    },
    { name: 'parts', kind: 'list', help: `which parts to run (${SERVE_BENCH_PARTS.join(',')})`, default: d.parts },
  ],
  // serveBench's RangeErrors are its inputs'.
  usageErrors: [RangeError],
  async run(a) {
    const parts = (a.strs('parts') ?? []) as ServeBenchPart[];
    for (const p of parts) if (!SERVE_BENCH_PARTS.includes(p)) a.usage(`--parts: unknown part "${p}" (${SERVE_BENCH_PARTS.join(', ')})`);
    let newDocument: ReturnType<typeof popqaDocument> | undefined;
    try {
      if (parts.includes('add')) newDocument = popqaDocument(a.str('data-dir')!, 200);
    } catch (e) {
      a.usage((e as Error).message);
    }
    let run: BenchRun | undefined;
    const result = await serveBench(
      {
        model: a.model,
        home: a.home,
        threads: a.threads,
        collection: a.str('collection'),
        ...readDemo(a.str('demo-dir')!),
        newDocument,
        requests: a.num('requests'),
        maxNewTokens: a.num('max-new-tokens'),
        batch: a.num('batch'),
        worker: a.flag('worker'),
        weights: a.str('weights') as WeightFormat,
        warm: !a.flag('no-warm'),
        trainingPause: a.num('training-pause'),
        compareBatch: a.nums('compare-batch'),
        clients: a.num('clients'),
        decodeTokens: a.num('decode-tokens'),
        rounds: a.num('rounds'),
        maxSeconds: a.num('max-seconds'),
        parts,
        // The load guard starts once the collection is ready: encoding its documents on first use is not timed.
        onReady: () => {
          run = a.start();
        },
      },
      a.say,
    );
    // The order rg bench serve prints: the figures, the run record, the peak RSS.
    const { peakRssMb, ...figures } = result;
    return { bench: 'serve', ...figures, ...run!.finish(), peakRssMb };
  },
};
