import { join } from 'node:path';
import { type BenchRun, benchFlags, benchMain } from '@rg/bench-kit';
import { popqaDocument } from './add.js';
import { readDemo, SERVE_BENCH_DEFAULTS, SERVE_BENCH_PARTS, type ServeBenchPart, serveBench } from './serve.js';

// `nx run server:bench` (node dist/bench/main.js): the serving benchmark without the CLI; `rg bench serve` runs the
// same function. The documents are `rg demo`'s (apps/cli/demo), the added one PopQA's (../shared/data).
await benchMain({
  benches: ['serve'],
  options: benchFlags(
    [
      'collection',
      'demo-dir',
      'data-dir',
      'requests',
      'max-new-tokens',
      'batch',
      'training-pause',
      'compare-batch',
      'clients',
      'decode-tokens',
      'rounds',
      'max-seconds',
      'parts',
    ],
    ['worker', 'no-warm'],
  ),
  // serveBench's RangeErrors are its inputs'.
  usageErrors: [RangeError],
  async run(bench, a) {
    const d = SERVE_BENCH_DEFAULTS;
    const parts = (a
      .string('parts')
      ?.split(',')
      .map((p) => p.trim()) ?? d.parts) as ServeBenchPart[];
    for (const p of parts) if (!SERVE_BENCH_PARTS.includes(p)) a.usage(`--parts: unknown part "${p}" (${SERVE_BENCH_PARTS.join(', ')})`);
    const demo = readDemo(a.path('demo-dir') ?? join(a.root, 'apps/cli/demo'));
    const dataDir = a.path('data-dir') ?? join(a.root, '../shared/data');
    let run: BenchRun | undefined;
    const result = await serveBench(
      {
        model: a.model,
        home: a.home,
        threads: a.threads,
        collection: a.path('collection'),
        ...demo,
        newDocument: parts.includes('add') ? popqaDocument(dataDir, 200) : undefined,
        requests: a.int('requests', d.requests),
        maxNewTokens: a.int('max-new-tokens', d.maxNewTokens),
        batch: a.int('batch', d.batch),
        worker: a.flag('worker'),
        warm: !a.flag('no-warm'),
        trainingPause: a.int('training-pause', d.trainingPause, 0),
        compareBatch: a.string('compare-batch') === undefined ? undefined : a.ints('compare-batch', []),
        clients: a.int('clients', d.clients),
        decodeTokens: a.int('decode-tokens', d.decodeTokens),
        rounds: a.int('rounds', d.rounds),
        maxSeconds: a.int('max-seconds', d.maxSeconds),
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
    return { bench, ...figures, ...run!.finish(), peakRssMb };
  },
});
