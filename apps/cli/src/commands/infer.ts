import { resolve } from 'node:path';
import { type ComposeMode, DATASET_NAMES, isMethod, loadDataset, METHODS, type Method } from '@rg/inference';
import { BACKENDS, type BackendName } from '@rg/retriever';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { CliContext } from '../context.js';
import { type InferSettings, runInference } from '../infer/pipeline.js';
import { adapterScaleOption, composeOption } from '../infer/steps.js';
import { finiteNumber, nonNegativeInt, positiveInt, positiveNumber } from '../parse.js';

interface InferFlags {
  dataset: string;
  dataDir: string;
  split?: string;
  store?: string;
  backend: BackendName;
  adapters?: string;
  method: Method[];
  topk: number;
  sample?: number;
  seed: number;
  maxNewTokens: number;
  gamma?: number;
  compose: ComposeMode;
  adapterScale?: number;
  rank?: number;
  alpha?: number;
  lr?: number;
  epochs?: number;
  adapterDataset?: string;
  warmup?: boolean;
  out: string;
  json?: boolean;
}

function methodList(value: string): Method[] {
  const parts = value.split(',').map((s) => s.trim());
  const bad = parts.filter((p) => !isMethod(p));
  if (bad.length > 0 || parts.length === 0)
    throw new InvalidArgumentError(`expected methods from ${METHODS.join(', ')} (comma-separated), got ${bad.join(', ')}`);
  return parts as Method[];
}

export function registerInfer(program: Command, ctx: CliContext): void {
  program
    .command('infer')
    .description("answer a dataset's questions with one or more methods and write config.json, predict.json and result.txt per method")
    .requiredOption('--dataset <name>', `${DATASET_NAMES.join(' | ')} | jsonl:QUESTIONS.jsonl`)
    .option('--data-dir <dir>', 'folder holding pubmedqa/, popqa/, chemprot/ (see each SOURCE.md)', '../shared/data')
    .option('--split <split>', 'PubMedQA: test|dev|all; PopQA: all|dev|test; ChemProt: test|dev|train (default: the first)')
    .option('--store <dir>', 'corpus store with a built index (retrieval methods)')
    .addOption(new Option('--backend <name>', 'retrieval backend').choices(BACKENDS).default('sqlite'))
    .option('--adapters <dir>', 'adapter store (default: RG_HOME/adapters, as rg encode)')
    .requiredOption('--method <list>', `comma-separated: ${METHODS.join(', ')}`, methodList)
    .option('--topk <k>', 'documents retrieved per question (clusters for cluster)', positiveInt, 3)
    .option('--sample <n>', 'answer a seeded sample of n questions', positiveInt)
    .option('--seed <n>', 'seed of the sample', nonNegativeInt, 0)
    .option('--max-new-tokens <n>', 'tokens generated for free-text answers', positiveInt, 32)
    .option('--gamma <g>', 'step size for gradient-mode adapters (base_weight - gamma * gradient)', finiteNumber)
    .addOption(composeOption())
    .addOption(adapterScaleOption())
    .option('--rank <r>', 'adapter rank (default: what the adapter store holds; 2 when no method reads adapters)', positiveInt)
    .option('--alpha <a>', 'adapter alpha (default: what the adapter store holds; else 32)', positiveNumber)
    .option('--lr <lr>', 'learning rate the adapters were encoded with (default: what the store holds; else 3e-4)', positiveNumber)
    .option('--epochs <n>', 'epochs the adapters were encoded with (default: what the store holds; else 1)', positiveNumber)
    .option('--adapter-dataset <name>', 'dataset folder of the adapters in the store (default: the dataset name)')
    .option(
      '--warmup',
      'stack the store’s warm-up adapter (rg adapter warmup) under every method’s adapters at weight 1 (wo_param: base + warm-up); refused when adapters were trained on top of another warm-up or the warm-up saw these questions',
    )
    .option('--out <dir>', 'output root', 'output')
    .option('--json', 'print one JSON line per method with its metrics and folder')
    .action(async (flags: InferFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const here = (p: string | undefined) => (p === undefined ? undefined : resolve(ctx.io.cwd, p));
      const jsonl = flags.dataset.startsWith('jsonl:') ? `jsonl:${here(flags.dataset.slice('jsonl:'.length))}` : flags.dataset;
      const dataset: InferSettings['dataset'] = loadDataset(jsonl, { dataDir: resolve(ctx.io.cwd, flags.dataDir), split: flags.split });
      let bar: ReturnType<CliContext['progress']> | undefined;
      const outcomes = await runInference(
        {
          ...flags,
          store: here(flags.store),
          adapters: here(flags.adapters),
          out: resolve(ctx.io.cwd, flags.out),
          methods: flags.method,
          model: config.model,
          home: config.home,
          threads: config.threads,
          dataset,
        },
        {
          onMethodStart: (method, total) => {
            bar?.stop();
            bar = ctx.progress(`infer ${method}`, total, 'q', flags.json);
          },
          onAnswer: () => bar?.tick(),
          onNote: (text) => ctx.info(text),
        },
      ).finally(() => bar?.stop());
      for (const o of outcomes) {
        // A question answered without some of its documents' adapters is a weaker answer than the method promises.
        if (o.metrics.missingAdapters > 0)
          ctx.info(
            `${o.method}: ${o.metrics.missingAdapters} retrieved document(s) had no adapter in the store and were answered without it`,
          );
        if (flags.json) ctx.json({ method: o.method, dir: o.dir, resumed: o.resumed, seconds: o.seconds, ...o.metrics });
        else ctx.print(`${o.method}\t${o.metrics.primaryMetric}=${o.metrics.score.toFixed(4)}\tn=${o.metrics.n}\t${o.dir}`);
      }
    });
}
