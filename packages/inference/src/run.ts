import { closeSync, existsSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { shuffledIndices } from './datasets/split.js';
import type { Dataset, QaExample } from './datasets/types.js';
import { evaluate, formatMetrics, type Metrics } from './evaluate.js';
import {
  type AnswerOptions,
  COMPOSING_METHODS,
  type ComposeMode,
  checkDeps,
  effectiveCompose,
  type Method,
  type MethodDeps,
} from './methods.js';
import { type RunCoordinates, runDir, writeFileAtomic } from './output.js';
import { answerQuestion, type Prediction } from './predict.js';

export interface RunOptions extends AnswerOptions {
  /** The run's folder (see `runDir`). */
  dir: string;
  /** Everything else needed to reproduce the run (model, store, seed, sample...), written into config.json. */
  config: Record<string, unknown>;
  onProgress?: (done: number, total: number, last: Prediction) => void;
}

export interface RunResult {
  predictions: Prediction[];
  metrics: Metrics;
  /** Questions answered in an earlier, interrupted run of the same config and reused. */
  resumed: number;
}

const PARTIAL = 'predict.partial.jsonl';

/**
 * Answer `examples` with one method and write config.json, predict.json and result.txt into `options.dir`.
 * Each answer is appended to predict.partial.jsonl as it is made, so an interrupted run with the same config
 * resumes where it stopped; a different config starts over. Final files are written atomically.
 */
export async function runMethod<E>(dataset: Dataset, examples: QaExample[], deps: MethodDeps<E>, options: RunOptions): Promise<RunResult> {
  checkDeps(options.method, deps);
  const { dir } = options;
  const config = {
    ...options.config,
    dataset: dataset.name,
    split: dataset.split ?? null,
    method: options.method,
    topk: options.topk,
    maxNewTokens: options.maxNewTokens,
    instruction: options.instruction ?? null,
    questions: examples.length,
  };
  const configText = `${JSON.stringify(config, null, 2)}\n`;
  const configPath = join(dir, 'config.json');
  const partialPath = join(dir, PARTIAL);
  const done = new Map<string, Prediction>();
  const sameConfig = existsSync(configPath) && readFileSync(configPath, 'utf8') === configText;
  // Finished before with this config (a run stopped in a later method, or a rerun): its answers stand.
  const finished = sameConfig ? readFinished(dir, examples) : undefined;
  if (finished) {
    // A partial file beside finished answers is a rerun's that was stopped: the finished answers stand.
    rmSync(partialPath, { force: true });
    return { predictions: finished, metrics: evaluate(dataset, finished), resumed: finished.length };
  }
  if (sameConfig && existsSync(partialPath)) {
    for (const line of readFileSync(partialPath, 'utf8').split('\n')) {
      // A crash can leave the last line cut short: it is simply answered again.
      try {
        const p = JSON.parse(line) as Prediction;
        done.set(p.id, p);
      } catch {}
    }
  } else {
    rmSync(partialPath, { force: true });
  }
  writeFileAtomic(configPath, configText);
  const resumed = examples.filter((e) => done.has(e.id)).length;

  const fd = openSync(partialPath, 'a');
  try {
    let count = resumed;
    for (const ex of examples) {
      if (done.has(ex.id)) continue;
      const p = await answerQuestion(ex, dataset, deps, options);
      writeSync(fd, `${JSON.stringify(p)}\n`);
      fsyncSync(fd);
      done.set(ex.id, p);
      options.onProgress?.(++count, examples.length, p);
    }
  } finally {
    closeSync(fd);
  }

  const predictions = examples.map((e) => done.get(e.id)!);
  const metrics = evaluate(dataset, predictions);
  writeFileAtomic(join(dir, 'predict.json'), `${JSON.stringify(predictions, null, 2)}\n`);
  writeFileAtomic(join(dir, 'result.txt'), formatMetrics(options.method, metrics));
  rmSync(partialPath, { force: true });
  return { predictions, metrics, resumed };
}

/** predict.json of a finished run, when it answers exactly `examples` in their order (else undefined: answer again). */
function readFinished(dir: string, examples: QaExample[]): Prediction[] | undefined {
  const path = join(dir, 'predict.json');
  if (!existsSync(path) || !existsSync(join(dir, 'result.txt'))) return undefined;
  try {
    const predictions = JSON.parse(readFileSync(path, 'utf8')) as Prediction[];
    const same =
      Array.isArray(predictions) && predictions.length === examples.length && examples.every((e, i) => predictions[i]?.id === e.id);
    return same ? predictions : undefined;
  } catch {
    return undefined;
  }
}

export interface MethodsRunOptions extends Omit<AnswerOptions, 'method'> {
  methods: Method[];
  /** Output root: each method answers into runDir(out, coordinates + its folder). */
  out: string;
  coordinates: Omit<RunCoordinates, 'method'>;
  /**
   * Everything else needed to reproduce a method's run, for its config.json. `compose` is passed for the methods
   * the mode changes (COMPOSING_METHODS) and undefined for the others, so that their records stay as they were.
   */
  config: (compose: ComposeMode | undefined) => Record<string, unknown>;
  onMethodStart?: (method: Method, questions: number) => void;
  onAnswer?: (method: Method, done: number, last: Prediction) => void;
}

export interface MethodOutcome extends RunResult {
  method: Method;
  /** The folder the method answered into. */
  dir: string;
  seconds: number;
}

/**
 * Answer the same questions with each method in turn (runMethod). A composing method with another mode than cat
 * answers into a folder of its own (`{method}-{mode}`), so runs of different modes sit side by side.
 */
export async function runMethods<E>(
  dataset: Dataset,
  examples: QaExample[],
  deps: MethodDeps<E>,
  options: MethodsRunOptions,
): Promise<MethodOutcome[]> {
  const { methods, out, coordinates, config, onMethodStart, onAnswer, ...answer } = options;
  const scale = answer.adapterScale ?? 1;
  const outcomes: MethodOutcome[] = [];
  for (const method of methods) {
    const composes = COMPOSING_METHODS.includes(method);
    const compose = effectiveCompose(method, answer.compose ?? 'cat');
    const dir = runDir(out, { ...coordinates, method: composes ? composedFolder(method, compose, answer.adapterScale) : method });
    onMethodStart?.(method, examples.length);
    const t0 = performance.now();
    const r = await runMethod(dataset, examples, deps, {
      ...answer,
      method,
      compose,
      dir,
      config: { ...config(composes ? compose : undefined), ...(composes && scale !== 1 ? { adapterScale: scale } : {}) },
      onProgress: (done, _total, p) => onAnswer?.(method, done, p),
    });
    outcomes.push({ method, dir, ...r, seconds: (performance.now() - t0) / 1000 });
  }
  return outcomes;
}

/** A composing method's folder: `{method}`, `-{mode}` for another mode than cat, `-s{scale}` for a scale other than 1. */
export function composedFolder(method: Method, compose: ComposeMode, scale = 1): string {
  return `${method}${compose !== 'cat' ? `-${compose}` : ''}${scale !== 1 ? `-s${scale}` : ''}`;
}

/** A seeded, reproducible sample of n examples (all of them, in order, when n is absent or too large). */
export function sampleExamples(examples: QaExample[], n: number | undefined, seed: number): QaExample[] {
  if (n === undefined || n >= examples.length) return examples;
  return shuffledIndices(examples.length, seed)
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => examples[i]);
}
