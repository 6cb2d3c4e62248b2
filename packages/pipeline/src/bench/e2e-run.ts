import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunRecord } from '@rg/bench-kit';
import { loadModelConfig, modelKeyName } from '@rg/engine';
import { loadDataset, writeFileAtomic } from '@rg/inference';
import { stepCounter } from '../reported.js';
import { defaultWarmupSplit } from '../warmup-pairs.js';
import { corpusInput } from './e2e-corpus.js';
import { e2eFigures } from './e2e-figures.js';
import { answerColumns, type E2eEnvironment, e2eStepCount, trainColumns } from './e2e-steps.js';
import { columnsChart } from './e2e-table.js';
import type { E2eSettings } from './e2e-types.js';
import { BenchInputError } from './errors.js';

/** The table's settings, with the folder everything is written to (relative paths resolve against `cwd`). */
export interface E2eRunSettings extends E2eSettings {
  out: string;
}

/** What a run leaves: figures.json's content, and where the table, chart and figures were written. */
export interface E2eRunResult {
  figures: ReturnType<typeof e2eFigures>['figures'];
  files: { table: string; chart: string; figures: string };
}

/**
 * The end-to-end table (rg bench e2e): the corpus ingested and indexed, the documents the sampled questions need
 * augmented and encoded (per document, DAPT, warm-up, clusters), every method answering the same questions, then
 * table.md, chart.svg and figures.json in `out`. Resumable: each step keeps what a previous run of the same settings
 * finished. `record` gives the run's machine record (load, commit) once the answers are in.
 */
export async function runE2e(
  settings: E2eRunSettings,
  env: Omit<E2eEnvironment, 'steps'> & { cwd: string },
  record: () => RunRecord,
): Promise<E2eRunResult> {
  const out = resolve(env.cwd, settings.out);
  const dataDir = resolve(env.cwd, settings.dataDir);
  const spec = settings.dataset.startsWith('jsonl:') ? `jsonl:${resolve(env.cwd, settings.dataset.slice(6))}` : settings.dataset;
  const dataset = loadDataset(spec, { dataDir, split: settings.split });
  const warmupSplit = settings.warmup ? warmupSplitFor(spec, dataset.split) : undefined;
  const ingest = corpusInput(settings, dataset.name, dataDir, env.cwd, out);
  checkFile(ingest.file, settings.corpus ? '--corpus' : '--data-dir');
  mkdirSync(out, { recursive: true });
  const withSteps: E2eEnvironment = { ...env, steps: stepCounter(env.reporter, e2eStepCount(settings)) };

  const inputs = { out, dataDir, spec, dataset, warmupSplit, ingest };
  const columns = await trainColumns(settings, inputs, withSteps);
  const answers = await answerColumns(settings, inputs, withSteps, columns);
  // The store's (and the table's) model name: the model's known name, or its file or folder name.
  const modelName = modelKeyName((await loadModelConfig(env.model, { home: env.home, pull: true })).source);
  const { figures, columns: table } = e2eFigures({
    flags: settings,
    modelName,
    model: env.model,
    dataset,
    warmupSplit,
    columns,
    answers,
    run: record(),
  });
  const files = { table: join(out, 'table.md'), chart: join(out, 'chart.svg'), figures: join(out, 'figures.json') };
  writeFileAtomic(files.table, `${figures.table}\n`);
  const about = { model: modelName, dataset: dataset.name, split: figures.split, questions: figures.questions };
  writeFileAtomic(files.chart, columnsChart(table, about));
  writeFileAtomic(files.figures, `${JSON.stringify(figures, null, 2)}\n`);
  return { figures, files };
}

/**
 * The split the warm-up trains on for an evaluation of `evalSplit`: the dataset's non-test questions (rg adapter
 * warmup's default). An evaluation on `all` holds them, and a jsonl: file has no split to take them from.
 */
function warmupSplitFor(spec: string, evalSplit: string | undefined): string {
  const split = defaultWarmupSplit(spec);
  if (split === undefined)
    throw new BenchInputError(
      '--warmup: a jsonl: dataset has no training split; train one with rg adapter warmup --dataset jsonl:TRAIN.jsonl and use rg infer --warmup',
    );
  if (evalSplit === 'all')
    throw new BenchInputError(`--warmup: --split all holds the warm-up's ${split} questions; evaluate on dev or test`);
  return split;
}

/** The corpus file must be a readable file: said before hours of work, naming the setting it came from. */
function checkFile(path: string, setting: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (e) {
    throw new BenchInputError(`${setting} ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!isFile) throw new BenchInputError(`${setting} ${path}: not a file`);
}
