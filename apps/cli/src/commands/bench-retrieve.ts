import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  RETRIEVE_BENCH_DEFAULTS,
  RETRIEVE_DATASET_FILES,
  type RetrieveBenchOptions,
  retrieveBench,
  retrievePeer,
  TAGGED_BACKENDS,
} from '@rg/pipeline/bench';
import { EMBEDDED_BACKENDS, type FieldWeights } from '@rg/retriever';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { nonNegativeInt, stringList } from '../parse.js';
import { allowBusyOption, benchCommand, benchRun } from './bench.js';
import { fieldWeightsOption, readRetrievalFields } from './index-cmd.js';

interface Flags {
  dataset: RetrieveBenchOptions['dataset'];
  split: RetrieveBenchOptions['split'];
  dataDir: string;
  input?: string;
  tags?: boolean;
  augmented?: string;
  fieldWeights?: FieldWeights;
  backends: string[];
  scale: number;
  annScale: number;
  peer: boolean;
  allowBusy?: boolean;
  json?: boolean;
}

/** `rg bench retrieve`: @rg/pipeline's retrieveBench on the flags' dataset, backends and sizes. */
export function registerBenchRetrieve(program: Command, ctx: CliContext): void {
  benchCommand(program)
    .command('retrieve')
    .description(
      'retrieval on PubMedQA PQA-L (1,000 abstracts, gold = the question’s own abstract) or PopQA (its supporting Wikipedia paragraphs, gold = either of a question’s two): recall@1/3/10 (share of questions with a gold document in the top k), latency, ingest rate',
    )
    .addOption(
      new Option('--dataset <name>', 'corpus and questions').choices(['pubmedqa', 'popqa']).default(RETRIEVE_BENCH_DEFAULTS.dataset),
    )
    .addOption(
      new Option('--split <split>', 'questions asked: dev, test (rg inference’s fixed splits) or all; the corpus is always whole')
        .choices(['dev', 'test', 'all'])
        .default(RETRIEVE_BENCH_DEFAULTS.split),
    )
    .option('--data-dir <dir>', 'folder holding pubmedqa/ and popqa/', '../shared/data')
    .option('--input <file>', 'the dataset file (default DATA_DIR/pubmedqa/ori_pqal.json or DATA_DIR/popqa/popqa.json)')
    .option(
      '--tags',
      `also measure ${TAGGED_BACKENDS.join(' and ')} with every document's tags and description indexed (the template augmenter's, unless --augmented)`,
    )
    .option('--augmented <file>', 'with --tags: take tags and descriptions from this augmented file (rg augment) instead')
    .option(
      '--field-weights <list>',
      'with --tags: field weights of the tagged index, e.g. text=1,title=1,tags=0.5,description=0.5',
      fieldWeightsOption,
    )
    .option('--backends <list>', `embedded backends to measure (${EMBEDDED_BACKENDS.join(', ')})`, stringList, [
      ...RETRIEVE_BENCH_DEFAULTS.backends,
    ])
    .option('--scale <n>', 'also time BM25 with n generated passages added (0 = skip)', nonNegativeInt, RETRIEVE_BENCH_DEFAULTS.scale)
    .option(
      '--ann-scale <n>',
      'also compare the HNSW index with exact sqlite-vec search on the real abstract vectors plus generated ones, up to n (0 = skip)',
      nonNegativeInt,
      RETRIEVE_BENCH_DEFAULTS.annScale,
    )
    .option('--no-peer', 'skip the Python peer (tools/bench/retrieve_peer.py: bm25s, transformers)')
    .addOption(allowBusyOption())
    .option('--json', 'print one JSON line')
    .action(async (flags: Flags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const input = resolve(ctx.io.cwd, flags.input ?? join(flags.dataDir, RETRIEVE_DATASET_FILES[flags.dataset]));
      if (!existsSync(input))
        throw new UsageError(
          `--input ${input}: not found (${flags.dataset === 'popqa' ? 'PopQA popqa.json, see ../shared/data/popqa/SOURCE.md' : 'PubMedQA PQA-L ori_pqal.json from github.com/pubmedqa/pubmedqa, data/'})`,
        );
      if ((flags.augmented !== undefined || flags.fieldWeights !== undefined) && !flags.tags)
        throw new UsageError('--augmented and --field-weights apply with --tags only');
      if (flags.tags && !flags.backends.some((b) => (TAGGED_BACKENDS as readonly string[]).includes(b)))
        throw new UsageError(`--tags measures ${TAGGED_BACKENDS.join(' or ')}: add one to --backends`);
      for (const b of flags.backends)
        if (!(EMBEDDED_BACKENDS as readonly string[]).includes(b))
          throw new UsageError(`--backends: unknown embedded backend "${b}" (expected ${EMBEDDED_BACKENDS.join(', ')})`);
      const run = benchRun(ctx, { threads: config.threads, allowBusy: flags.allowBusy ?? false });
      const options: RetrieveBenchOptions = {
        dataset: flags.dataset,
        split: flags.split,
        input,
        backends: flags.backends as RetrieveBenchOptions['backends'],
        tags: flags.tags ?? false,
        augmented: flags.augmented === undefined ? undefined : resolve(ctx.io.cwd, flags.augmented),
        readFields: readRetrievalFields,
        fieldWeights: flags.fieldWeights,
        scale: flags.scale,
        annScale: flags.annScale,
        peer: flags.peer ? retrievePeer(ctx.io.cwd) : undefined,
        home: config.home,
        threads: config.threads,
      };
      // A malformed dataset file is the user's to fix (exit 2), as a missing one.
      const result = await retrieveBench(options, (line) => ctx.info(line));
      const out = { bench: 'retrieve', ...run.finish(), ...result };
      if (flags.json) ctx.json(out);
      else ctx.print(JSON.stringify(out, null, 2));
    });
}
