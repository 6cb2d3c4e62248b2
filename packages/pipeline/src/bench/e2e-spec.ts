import { AugmentDataError, GeneratorSettingsError } from '@rg/augment';
import type { BenchArgs, BenchSpec } from '@rg/bench-kit';
import { ClusteringInputError } from '@rg/clustering';
import { ModelFileError } from '@rg/engine';
import { COMPOSE_MODES, DatasetError } from '@rg/inference';
import {
  BaseWeightMismatchError,
  NoChatTemplateError,
  RecipeMismatchError,
  WarmupMismatchError,
  WarmupNotFoundError,
} from '@rg/lora-trainer';
import { ClusterSettingsError } from '../cluster-store.js';
import { GENERATOR_FLAGS } from '../generator-settings.js';
import { StepInputError } from '../reported.js';
import { checkObjectiveSettings, OBJECTIVE_FLAGS, RECIPE_FLAGS, SHAPE_FLAGS, TrainerSettingsError } from '../training-settings.js';
import { WarmupSplitError } from '../warmup-pairs.js';
import { type E2eRunResult, type E2eRunSettings, runE2e } from './e2e-run.js';
import { BenchInputError } from './errors.js';

/** `--cluster-k`: distinct positive k values, or `none`. */
function clusterKs(a: BenchArgs): number[] {
  const raw = a.str('cluster-k') ?? '10';
  if (raw.trim() === 'none') return [];
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1))
    a.usage(`--cluster-k: expected comma-separated positive integers, e.g. 10,50,100, or none, got "${raw}"`);
  return [...new Set(parts.map(Number))];
}

/** The trainer's and clustering's refusals a user settles with a flag, said with that flag. */
function asUsage(a: BenchArgs, e: unknown): never {
  // What this --out folder already holds was made with other settings.
  const stored = [RecipeMismatchError, WarmupMismatchError, BaseWeightMismatchError, ClusterSettingsError];
  if (stored.some((k) => e instanceof k)) a.usage(`${(e as Error).message} (another --out DIR)`);
  if (e instanceof WarmupNotFoundError) a.usage(`--warmup: ${e.message}`);
  throw e;
}

/**
 * `rg bench e2e` and `nx run pipeline:bench e2e`: the end-to-end table (runE2e). Accuracy does not depend on the load,
 * so it never refuses a busy machine; it records the load, which the cost columns (timings) depend on.
 */
export const E2E_BENCH: BenchSpec = {
  name: 'e2e',
  description:
    'ingest -> augment -> encode (per document, DAPT, clusters) -> infer for every method on the same sampled questions; a markdown table plus costs; resumable',
  flags: [
    { name: 'dataset', kind: 'string', value: '<name>', required: true, help: 'pubmedqa | popqa | chemprot | jsonl:QUESTIONS.jsonl' },
    {
      name: 'corpus',
      kind: 'path',
      value: '<file>',
      help: 'corpus JSON Lines ({id, title?, text}); required with jsonl:, default: the dataset’s own documents (ChemProt: its train sentences, marks removed)',
    },
    { name: 'data-dir', kind: 'path', value: '<dir>', help: 'folder holding pubmedqa/, popqa/ and chemprot/', default: '../shared/data' },
    {
      name: 'split',
      kind: 'choice',
      value: '<split>',
      choices: ['dev', 'test', 'all'],
      help: 'questions the sample is drawn from: dev (choose recipes), test (report), all; default: the dataset’s default (PubMedQA test, PopQA all, ChemProt test, jsonl all)',
    },
    { name: 'sample', kind: 'int', required: true, help: 'questions (a seeded sample of the split)' },
    { name: 'seed', kind: 'count', help: 'seed of the sample, of training and of k-means', default: 0 },
    { name: 'topk', kind: 'int', value: '<k>', help: 'documents retrieved per question', default: 3 },
    ...GENERATOR_FLAGS.map((f) => (f.name === 'generator' ? { ...f, default: 'template' } : f)),
    ...SHAPE_FLAGS,
    ...RECIPE_FLAGS,
    ...OBJECTIVE_FLAGS,
    { name: 'compose', kind: 'choice', value: '<mode>', choices: COMPOSE_MODES, help: 'rg infer --compose', default: 'cat' },
    { name: 'adapter-scale', kind: 'number', value: '<s>', help: 'rg infer --adapter-scale' },
    { name: 'no-dapt', kind: 'switch', help: 'leave out the DAPT column (its encode costs as much as every document’s adapter together)' },
    {
      name: 'warmup',
      kind: 'switch',
      help: 'train the warm-up adapter on the dataset’s non-test questions (minus the sample when it is the same split), train document and DAPT adapters on top of it and stack it under every method; adds base + warm-up and RAG + warm-up columns',
    },
    { name: 'warmup-n', kind: 'int', help: 'question -> answer pairs of the warm-up', default: 600 },
    { name: 'warmup-lr', kind: 'number', value: '<lr>', help: 'learning rate of the warm-up', default: 3e-4 },
    { name: 'warmup-epochs', kind: 'int', help: 'epochs of the warm-up', default: 1 },
    {
      name: 'cluster-k',
      kind: 'string',
      value: '<list>',
      help: 'one cluster column per k (comma-separated; none: no cluster column)',
      default: '10',
    },
    { name: 'representatives', kind: 'int', value: '<m>', help: 'documents per cluster its adapter is trained on', default: 3 },
    { name: 'cluster-top', kind: 'int', value: '<c>', help: 'clusters whose adapters answer a question', default: 1 },
    {
      name: 'tags',
      kind: 'switch',
      help: 'index the template augmenter’s tags and description of every corpus document with it (the index is built before documents are chosen, so the cheap generator); answers go to output-tags/',
    },
    {
      name: 'gradient-checkpointing',
      kind: 'switch',
      help: 'rg encode --gradient-checkpointing (less memory for long documents, slower, same adapters)',
    },
    { name: 'out', kind: 'path', value: '<dir>', help: 'folder for everything the benchmark writes', default: 'bench-e2e' },
  ],
  loadFree: true,
  usageErrors: [
    AugmentDataError,
    BenchInputError,
    ClusteringInputError,
    DatasetError,
    GeneratorSettingsError,
    ModelFileError,
    NoChatTemplateError,
    StepInputError,
    TrainerSettingsError,
    WarmupSplitError,
  ],
  async run(a) {
    // The commit is recorded at start: a run takes hours and HEAD may move meanwhile.
    const run = a.start({ allowBusy: true });
    const settings = { ...a.options(), clusterK: clusterKs(a) } as unknown as E2eRunSettings;
    checkObjectiveSettings(settings);
    const env = {
      model: a.model,
      home: a.home,
      threads: a.threads,
      cwd: a.cwd,
      env: a.env,
      reporter: { info: a.say, progress: a.progress },
    };
    const { figures, files } = await runE2e(settings, env, () => run.finish()).catch((e: unknown) => asUsage(a, e));
    return { ...figures, files };
  },
  print: (out) => {
    const files = out.files as E2eRunResult['files'];
    return `${out.table}\n\nfigures in ${files.figures}, chart in ${files.chart}`;
  },
};
