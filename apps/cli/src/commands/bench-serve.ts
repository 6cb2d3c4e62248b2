import { resolve } from 'node:path';
import { WEIGHT_FORMATS } from '@rg/engine';
import {
  popqaDocument,
  readDemo,
  SERVE_BENCH_DEFAULTS,
  SERVE_BENCH_PARTS,
  type ServeBenchOptions,
  type ServeBenchPart,
  serveBench,
} from '@rg/server/bench';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { intList, nonNegativeInt, positiveInt, stringList } from '../parse.js';
import { allowBusyOption, benchCommand, benchRun } from './bench.js';
// The shipped demo corpus and questions (apps/cli/demo): small documents that encode in seconds each.
import { DEMO_DIR } from './demo.js';

// The measuring is the server's (apps/server/src/bench, also `nx run server:bench`); this is its `rg` entry.

type Flags = Omit<ServeBenchOptions, 'model' | 'home' | 'threads' | 'collection' | 'documents' | 'questions' | 'parts'> & {
  collection?: string;
  dataDir: string;
  parts: string[];
  allowBusy?: boolean;
  json?: boolean;
};

export function registerBenchServe(program: Command, ctx: CliContext): void {
  const d = SERVE_BENCH_DEFAULTS;
  benchCommand(program)
    .command('serve')
    .description(
      'the HTTP server in-process on loopback: overhead over in-process answering, adapter fetch+compose, concurrency 1/4/16, batched vs unbatched decoding across adapter sets, time from adding a document to an answer with its adapter',
    )
    .option(
      '--collection <dir>',
      'collection to serve (created with the demo documents when missing, reused after); default <home>/collections/bench-serve',
    )
    .option('--data-dir <dir>', 'folder holding popqa/ (the ~200-word document of the add part)', '../shared/data')
    .option(
      '--requests <n>',
      'requests per measurement of the overhead and concurrency parts (concurrency 16: twice as many)',
      positiveInt,
      d.requests,
    )
    .option('--max-new-tokens <n>', 'max_tokens of the overhead, concurrency and add parts', positiveInt, d.maxNewTokens)
    .option('--batch <n>', 'the served --batch (rows decoded together)', positiveInt, d.batch)
    .option('--worker', 'serve with rg serve --worker (decoding in a worker thread)')
    .addOption(
      new Option('--weights <format>', "serve with rg serve --weights (the answering model's projection weights)")
        .choices(WEIGHT_FORMATS)
        .default('f32'),
    )
    .option('--no-warm', "serve with rg serve --no-warm: the adapters' first uses read them from disk")
    .option(
      '--training-pause <s>',
      'add part: the served --training-pause compared with 0 (training that does not yield to answers)',
      nonNegativeInt,
      d.trainingPause,
    )
    .option(
      '--compare-batch <sizes>',
      'batching part: the --batch values compared (default 1 and --batch); 1 is sequential serving',
      intList,
    )
    .option('--clients <n>', 'batching part: concurrent clients, each with its own adapters', positiveInt, d.clients)
    .option('--decode-tokens <n>', 'batching part: max_tokens per request', positiveInt, d.decodeTokens)
    .option('--rounds <n>', 'batching part: timed rounds per --batch value (median), after a warm-up round', positiveInt, d.rounds)
    .option('--max-seconds <s>', 'time bound of each measurement: no request is sent after it', positiveInt, d.maxSeconds)
    .option('--parts <list>', `which parts to run (${SERVE_BENCH_PARTS.join(',')})`, stringList, [...SERVE_BENCH_PARTS])
    .addOption(allowBusyOption())
    .option('--json', 'print one JSON line')
    .action(async (flags: Flags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const parts = flags.parts as ServeBenchPart[];
      for (const p of parts)
        if (!SERVE_BENCH_PARTS.includes(p)) throw new UsageError(`--parts: unknown part "${p}" (${SERVE_BENCH_PARTS.join(', ')})`);
      if (flags.compareBatch?.some((b) => b < 1)) throw new UsageError('--compare-batch: sizes must be positive');
      let newDocument: ReturnType<typeof popqaDocument> | undefined;
      try {
        if (parts.includes('add')) newDocument = popqaDocument(resolve(ctx.io.cwd, flags.dataDir), 200);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      let run: ReturnType<typeof benchRun> | undefined;
      const result = await serveBench(
        {
          ...flags,
          model: config.model,
          home: config.home,
          threads: config.threads,
          ...readDemo(DEMO_DIR),
          collection: flags.collection ? resolve(ctx.io.cwd, flags.collection) : undefined,
          newDocument,
          parts,
          onReady: () => {
            run = benchRun(ctx, { threads: config.threads, allowBusy: flags.allowBusy ?? false });
          },
        },
        (line) => ctx.info(line),
      );
      const { peakRssMb, ...figures } = result;
      const out = { bench: 'serve', ...figures, ...run!.finish(), peakRssMb };
      if (flags.json) ctx.json(out);
      else ctx.print(JSON.stringify(out, null, 2));
    });
}
