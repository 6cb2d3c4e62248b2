import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { CorpusStore } from '@rg/corpus';
import { DatasetError, loadDataset, type Method, sampleExamples, writeFileAtomic } from '@rg/inference';
import { openRetriever } from '@rg/retriever';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { type MethodOutcome, runInference } from '../infer/pipeline.js';
import { stepRunner } from '../infer/steps.js';
import { nonNegativeInt, positiveInt, positiveNumber } from '../parse.js';
import { benchCommand } from './bench.js';

interface E2eFlags {
  dataset: string;
  corpus?: string;
  dataDir: string;
  sample: number;
  seed: number;
  topk: number;
  generator: string;
  qa: number;
  rank: number;
  alpha: number;
  lr: number;
  epochs: number;
  out: string;
  json?: boolean;
}

/** The published table's columns, by method; null where this benchmark does not produce the method's adapters yet. */
const COLUMNS: Array<{ title: string; method: Method | null; why?: string }> = [
  { title: 'base', method: 'wo_param' },
  { title: 'DAPT', method: null, why: 'rg encode --dapt is not built' },
  { title: 'RAG', method: 'icl' },
  { title: 'RG', method: 'cat_all_one' },
  { title: 'RG+RAG', method: 'combine' },
  { title: 'cluster', method: null, why: 'bench e2e does not run rg cluster + rg cluster train yet (rg infer --method cluster does)' },
];

export function registerBenchE2e(program: Command, ctx: CliContext): void {
  benchCommand(program)
    .command('e2e')
    .description('ingest -> augment -> encode -> infer for every method on the same sampled questions; a markdown table plus costs')
    .requiredOption('--dataset <name>', 'pubmedqa | popqa | jsonl:QUESTIONS.jsonl')
    .option('--corpus <file>', 'corpus JSON Lines ({id, title?, text}); required with jsonl:, default: the dataset’s own documents')
    .option('--data-dir <dir>', 'folder holding pubmedqa/ and popqa/', '../shared/data')
    .requiredOption('--sample <n>', 'questions (a seeded sample)', positiveInt)
    .option('--seed <n>', 'seed of the sample and of training', nonNegativeInt, 0)
    .option('--topk <k>', 'documents retrieved per question', positiveInt, 3)
    .option('--generator <name>', 'augmentation generator (rg augment --generator)', 'template')
    .option('--qa <n>', 'QA pairs per document', positiveInt, 3)
    .option('--rank <r>', 'LoRA rank', positiveInt, 2)
    .option('--alpha <a>', 'LoRA alpha', positiveNumber, 32)
    .option('--lr <lr>', 'learning rate', positiveNumber, 3e-4)
    .option('--epochs <n>', 'epochs', positiveInt, 1)
    .option('--out <dir>', 'folder for everything the benchmark writes', 'bench-e2e')
    .option('--json', 'print the figures as one JSON line')
    .action(async (flags: E2eFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const out = resolve(ctx.io.cwd, flags.out);
      const dataDir = resolve(ctx.io.cwd, flags.dataDir);
      const spec = flags.dataset.startsWith('jsonl:') ? `jsonl:${resolve(ctx.io.cwd, flags.dataset.slice(6))}` : flags.dataset;
      let dataset: ReturnType<typeof loadDataset>;
      try {
        dataset = loadDataset(spec, { dataDir });
      } catch (e) {
        throw e instanceof DatasetError ? new UsageError(e.message) : e;
      }
      const ingest = corpusInput(flags, dataset.name, dataDir, ctx.io.cwd);
      mkdirSync(out, { recursive: true });
      const steps = await stepRunner(ctx, config, 6);

      const corpus = join(out, 'corpus');
      await steps.run('ingest the corpus', ['corpus', 'ingest', '--input', ingest.file, '--store', corpus, ...ingest.format]);
      await steps.run('index it for BM25', ['index', 'build', '--store', corpus]);

      // Only the documents the sampled questions retrieve (and their gold documents, for the oracle) get adapters:
      // the method's corpus filtering, which keeps encoding proportional to the sample, not to the corpus.
      steps.announce(`select the documents the ${flags.sample} sampled questions need`);
      const examples = sampleExamples(dataset.examples, flags.sample, flags.seed);
      const docsFile = join(out, 'encode-docs.jsonl');
      const needed = await neededDocuments(corpus, examples, flags.topk);
      const store = CorpusStore.open(corpus);
      try {
        const lines = needed.map((id) => store.get(id)).filter((d) => d !== undefined);
        writeFileAtomic(docsFile, lines.map((d) => `${JSON.stringify({ id: d.id, title: d.title, text: d.text })}\n`).join(''));
      } finally {
        store.close();
      }

      const augmented = join(out, 'augmented.jsonl');
      await steps.run('augment', [
        'augment',
        '--input',
        docsFile,
        '--output',
        augmented,
        '--generator',
        flags.generator,
        '--qa',
        String(flags.qa),
      ]);
      const adapters = join(out, 'adapters');
      const shape = [
        '--rank',
        String(flags.rank),
        '--alpha',
        String(flags.alpha),
        '--lr',
        String(flags.lr),
        '--epochs',
        String(flags.epochs),
      ];
      const tEncode = performance.now();
      await steps.run('encode', [
        'encode',
        '--input',
        augmented,
        '--store',
        adapters,
        '--dataset',
        dataset.name,
        '--seed',
        String(flags.seed),
        ...shape,
      ]);
      const encodeSeconds = (performance.now() - tEncode) / 1000;

      const methods: Method[] = ['wo_param', 'icl', 'cat_all_one', 'combine'];
      if (examples.every((e) => e.goldDocIds?.length)) methods.push('oracle');
      steps.announce(`answer ${examples.length} questions with ${methods.join(', ')}`);
      let bar: ReturnType<CliContext['progress']> | undefined;
      const outcomes = await runInference(
        {
          model: config.model,
          home: config.home,
          threads: config.threads,
          dataset: { ...dataset, examples },
          methods,
          store: corpus,
          backend: 'sqlite',
          adapters,
          rank: flags.rank,
          alpha: flags.alpha,
          lr: flags.lr,
          epochs: flags.epochs,
          topk: flags.topk,
          maxNewTokens: 32,
          seed: flags.seed,
          out: join(out, 'output'),
        },
        {
          onMethodStart: (m, n) => {
            bar?.stop();
            bar = ctx.progress(m, n, 'q', flags.json);
          },
          onAnswer: () => bar?.tick(),
        },
      ).finally(() => bar?.stop());

      const adapterStore = AdapterStore.open(adapters);
      const entries = adapterStore.list({ dataset: dataset.name, rank: flags.rank, alpha: flags.alpha });
      adapterStore.close();
      const figures = {
        benchmark: 'e2e',
        dataset: dataset.name,
        questions: examples.length,
        seed: flags.seed,
        model: config.model,
        commit: gitCommit(ctx.io.cwd),
        date: new Date().toISOString(),
        machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, threads: config.threads },
        settings: {
          topk: flags.topk,
          generator: flags.generator,
          qa: flags.qa,
          rank: flags.rank,
          alpha: flags.alpha,
          lr: flags.lr,
          epochs: flags.epochs,
        },
        documentsEncoded: entries.length,
        encodeSecondsPerDocument: entries.length ? encodeSeconds / entries.length : null,
        bytesPerAdapter: entries.length ? Math.round(entries.reduce((s, e) => s + e.bytes, 0) / entries.length) : null,
        methods: Object.fromEntries(
          outcomes.map((o) => [
            o.method,
            { [o.metrics.primaryMetric]: o.metrics.score, ...o.metrics, latencyMsPerQuestion: o.metrics.meanLatencyMs },
          ]),
        ),
        table: '',
      };
      figures.table = markdownTable(config.model, outcomes, figures);
      writeFileAtomic(join(out, 'table.md'), `${figures.table}\n`);
      writeFileAtomic(join(out, 'figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
      if (flags.json) ctx.json(figures);
      else ctx.print(`${figures.table}\n\nfigures in ${join(out, 'figures.json')}`);
    });
}

function corpusInput(flags: E2eFlags, name: string, dataDir: string, cwd: string): { file: string; format: string[] } {
  if (flags.corpus) return { file: resolve(cwd, flags.corpus), format: [] };
  if (name === 'pubmedqa') return { file: join(dataDir, 'pubmedqa', 'ori_pqal.json'), format: ['--format', 'pubmedqa'] };
  if (name === 'popqa') return { file: join(dataDir, 'popqa', 'popqa.json'), format: ['--format', 'popqa'] };
  throw new UsageError(`--dataset ${flags.dataset}: give the corpus with --corpus CORPUS.jsonl`);
}

/** Retrieved ids of every question plus the gold ids, first-seen order. */
async function neededDocuments(
  storeDir: string,
  examples: Array<{ question: string; goldDocIds?: string[] }>,
  k: number,
): Promise<string[]> {
  const retriever = await openRetriever('sqlite', { storeDir });
  const ids = new Set<string>();
  try {
    for (const ex of examples) {
      for (const h of await retriever.search(ex.question, { k })) ids.add(h.id);
      for (const id of ex.goldDocIds ?? []) ids.add(id);
    }
  } finally {
    await retriever.close();
  }
  return [...ids];
}

function gitCommit(cwd: string): string | null {
  try {
    return existsSync(cwd)
      ? execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
      : null;
  } catch {
    return null;
  }
}

/** Rows: model; columns as the published table (base, DAPT, RAG, RG, RG+RAG, cluster) plus the costs. */
export function markdownTable(
  model: string,
  outcomes: MethodOutcome[],
  costs: { encodeSecondsPerDocument: number | null; bytesPerAdapter: number | null; questions: number },
): string {
  const score = new Map(outcomes.map((o) => [o.method, o.metrics]));
  const metricName = outcomes[0]?.metrics.primaryMetric ?? 'score';
  const cells = COLUMNS.map((c) => {
    const m = c.method ? score.get(c.method) : undefined;
    return m ? m.score.toFixed(3) : 'n/a';
  });
  const rg = score.get('cat_all_one');
  const head = [...COLUMNS.map((c) => c.title), 'encode s/doc', 'bytes/adapter', 'RG latency ms/question'];
  const row = [
    model,
    ...cells,
    costs.encodeSecondsPerDocument?.toFixed(2) ?? 'n/a',
    costs.bytesPerAdapter?.toString() ?? 'n/a',
    rg ? rg.meanLatencyMs.toFixed(0) : 'n/a',
  ];
  const notes = COLUMNS.filter((c) => !c.method).map((c) => `${c.title}: n/a because ${c.why}.`);
  const oracle = score.get('oracle');
  if (oracle) notes.push(`oracle (gold documents' adapters): ${oracle.score.toFixed(3)}.`);
  return [
    `| model | ${head.join(' | ')} |`,
    `| --- | ${head.map(() => '---').join(' | ')} |`,
    `| ${row.join(' | ')} |`,
    '',
    `${metricName} on ${costs.questions} questions. ${notes.join(' ')}`,
  ].join('\n');
}
