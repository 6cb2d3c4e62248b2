import { GENERATORS } from '@rg/augment';
import { type E2eRunSettings, runE2e } from '@rg/pipeline/bench';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { CliContext } from '../context.js';
import { adapterScaleOption, composeOption } from '../infer/steps.js';
import { nonNegativeInt, positiveInt, positiveNumber } from '../parse.js';
import { examplesOption, lossOption, objectiveOption, trainingErrorsAsUsage } from '../train/run.js';
import { benchCommand, benchRun } from './bench.js';
import { clusteringAsUsage } from './cluster.js';

/** rg bench e2e's flags: the run's settings, where it writes, and --json. */
type E2eFlags = E2eRunSettings & { json?: boolean };

/** `--cluster-k`: distinct positive k values, or `none`. */
export function clusterKList(value: string): number[] {
  if (value.trim() === 'none') return [];
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p) || Number.parseInt(p, 10) < 1)) {
    throw new InvalidArgumentError('expected comma-separated positive integers, e.g. 10,50,100, or none');
  }
  return [...new Set(parts.map((p) => Number.parseInt(p, 10)))];
}

export function registerBenchE2e(program: Command, ctx: CliContext): void {
  benchCommand(program)
    .command('e2e')
    .description(
      'ingest -> augment -> encode (per document, DAPT, clusters) -> infer for every method on the same sampled questions; a markdown table plus costs; resumable',
    )
    .requiredOption('--dataset <name>', 'pubmedqa | popqa | chemprot | jsonl:QUESTIONS.jsonl')
    .option(
      '--corpus <file>',
      'corpus JSON Lines ({id, title?, text}); required with jsonl:, default: the dataset’s own documents (ChemProt: its train sentences, marks removed)',
    )
    .option('--data-dir <dir>', 'folder holding pubmedqa/, popqa/ and chemprot/', '../shared/data')
    .addOption(
      new Option(
        '--split <split>',
        'questions the sample is drawn from: dev (choose recipes), test (report), all; default: the dataset’s default (PubMedQA test, PopQA all, ChemProt test, jsonl all)',
      ).choices(['dev', 'test', 'all']),
    )
    .requiredOption('--sample <n>', 'questions (a seeded sample of the split)', positiveInt)
    .option('--seed <n>', 'seed of the sample, of training and of k-means', nonNegativeInt, 0)
    .option('--topk <k>', 'documents retrieved per question', positiveInt, 3)
    .addOption(new Option('--generator <name>', 'augmentation generator (rg augment --generator)').choices(GENERATORS).default('template'))
    .option('--qa <n>', 'QA pairs per document', positiveInt, 3)
    .option('--phrasings <p>', 'template generator: wordings per passage (rg augment --phrasings)', positiveInt)
    .option('--rank <r>', 'LoRA rank', positiveInt, 2)
    .option('--alpha <a>', 'LoRA alpha', positiveNumber, 32)
    .option('--lr <lr>', 'learning rate', positiveNumber, 3e-4)
    .option('--epochs <n>', 'epochs', positiveInt, 1)
    .addOption(examplesOption())
    .addOption(lossOption())
    .addOption(objectiveOption())
    .option('--distill-topk <k>', 'rg encode --distill-topk', positiveInt)
    .option('--distill-weight <w>', 'rg encode --distill-weight', positiveNumber)
    .addOption(composeOption())
    .addOption(adapterScaleOption())
    .option('--no-dapt', 'leave out the DAPT column (its encode costs as much as every document’s adapter together)')
    .option(
      '--warmup',
      'train the warm-up adapter on the dataset’s non-test questions (minus the sample when it is the same split), train document and DAPT adapters on top of it and stack it under every method; adds base + warm-up and RAG + warm-up columns',
    )
    .option('--warmup-n <n>', 'question -> answer pairs of the warm-up', positiveInt, 600)
    .option('--warmup-lr <lr>', 'learning rate of the warm-up', positiveNumber, 3e-4)
    .option('--warmup-epochs <n>', 'epochs of the warm-up', positiveInt, 1)
    .option('--cluster-k <list>', 'one cluster column per k (comma-separated; none: no cluster column)', clusterKList, [10])
    .option('--representatives <m>', 'documents per cluster its adapter is trained on', positiveInt, 3)
    .option('--cluster-top <c>', 'clusters whose adapters answer a question', positiveInt, 1)
    .option(
      '--tags',
      'index the template augmenter’s tags and description of every corpus document with it (the index is built before documents are chosen, so the cheap generator); answers go to output-tags/',
    )
    .option('--gradient-checkpointing', 'rg encode --gradient-checkpointing (less memory for long documents, slower, same adapters)')
    .option('--out <dir>', 'folder for everything the benchmark writes', 'bench-e2e')
    .option('--json', 'print the figures as one JSON line')
    .action(async (flags: E2eFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      // The commit is recorded at start (a run takes hours and HEAD may move meanwhile). Accuracy does not depend on
      // the load, so e2e never refuses a busy machine; it records the load, which the cost columns (timings) depend on.
      const run = benchRun(ctx, { threads: config.threads, allowBusy: true });
      // The augmenter is the library's default: the --generator's (template, or the local model at q4).
      const env = { ...config, cwd: ctx.io.cwd, env: ctx.io.env, reporter: ctx.reporter(flags.json) };
      const { figures, files } = await runE2e(flags, env, () => run.finish())
        .catch(trainingErrorsAsUsage('another --out DIR'))
        .catch(clusteringAsUsage);
      if (flags.json) ctx.json(figures);
      else ctx.print(`${figures.table}\n\nfigures in ${files.figures}, chart in ${files.chart}`);
    });
}
