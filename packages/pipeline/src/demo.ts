import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TemplateAugmenter } from '@rg/augment';
import { CorpusStore } from '@rg/corpus';
import { type Dataset, loadJsonlCorpus, loadJsonlQa, type Method, type MethodOutcome } from '@rg/inference';
import { DEFAULT_RECIPE } from '@rg/lora-trainer';
import { corpusPassages } from './augment-corpus.js';
import { clustersPath } from './cluster-store.js';
import {
  augmentReported,
  encodeReported,
  indexReported,
  inferReported,
  ingestReported,
  type RunEnvironment,
  StepInputError,
} from './reported.js';

const METHODS: Method[] = ['wo_param', 'icl', 'cat_all_one', 'combine'];

/**
 * Training settings of the demo's adapters. A 135M model with rank-2 adapters and a handful of examples per
 * document needs more steps than the method's defaults (lr 3e-4, 1 epoch, tuned for larger models and
 * richer augmentation) before a fact sticks.
 */
const RANK = 2;
const ALPHA = 32;
const LR = 1e-3;
const EPOCHS = 5;
const QA_PER_DOC = 6;
/** rg encode's default recipe, which the demo's adapters have always been trained with. */
const DEMO_RECIPE = { examples: DEFAULT_RECIPE.examples, loss: DEFAULT_RECIPE.loss, objective: 'lm' } as const;

export interface DemoOptions {
  /** The shipped corpus.jsonl and questions.jsonl (invented facts). */
  demoDir: string;
  /** Where everything is written; resumable (each step keeps what a previous run finished). */
  out: string;
  /** Only the first n documents and their questions. */
  docs?: number;
}

/** `steps` announces the demo's DEMO_STEPS steps (a caller that pulls the model first announces that one itself). */
export type DemoEnvironment = RunEnvironment;

/** The number of steps runDemo announces. */
export const DEMO_STEPS = 5;

/**
 * The whole method on the shipped corpus (rg demo): ingest, index for BM25, augment with the template generator,
 * one adapter per document, then base, RAG, RG and RG+RAG answer the same questions; report.txt in `out`.
 */
export async function runDemo(
  options: DemoOptions,
  env: DemoEnvironment,
): Promise<{ outcomes: MethodOutcome[]; dataset: Dataset; report: string; out: string }> {
  const { reporter, steps } = env;
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  const { corpusFile, dataset } = writeDemoData(options.demoDir, out, options.docs);
  const corpusDir = join(out, 'corpus');
  const augmented = join(out, 'augmented.jsonl');
  const corpus = CorpusStore.open(corpusDir, { create: true });
  try {
    steps.announce('ingest the corpus');
    await ingestReported(reporter, corpus, corpusFile);
    steps.announce('index it for BM25');
    await indexReported(reporter, corpus, 'sqlite', { home: env.home, threads: env.threads, env: env.env });
    steps.announce('augment every document (template generator: cloze questions, reordered rewrite)');
    await augmentReported(reporter, corpusPassages(corpus), augmented, new TemplateAugmenter({ qaCount: QA_PER_DOC }));
  } finally {
    corpus.close();
  }
  const adapters = join(out, 'adapters');
  steps.announce('encode one adapter per document');
  const { model, home, threads } = env;
  await encodeReported(reporter, {
    model,
    home,
    threads,
    input: augmented,
    store: adapters,
    dataset: 'demo',
    rank: RANK,
    alpha: ALPHA,
    training: { mode: 'lora', lr: LR, epochs: EPOCHS, batchSize: 1, gradAccumulation: 1, seed: 0, maxTokens: 1024, recipe: DEMO_RECIPE },
  });

  steps.announce(`answer ${dataset.examples.length} questions with ${METHODS.join(', ')}`);
  const outcomes = await inferReported(reporter, {
    model,
    home,
    threads,
    dataset,
    methods: METHODS,
    store: corpusDir,
    backend: 'sqlite',
    adapters,
    rank: RANK,
    alpha: ALPHA,
    lr: LR,
    epochs: EPOCHS,
    adapterDataset: 'demo',
    topk: 1,
    maxNewTokens: 16,
    seed: 0,
    clusters: clustersPath(corpusDir),
    out: join(out, 'output'),
  });
  const report = formatDemoReport(outcomes, dataset);
  writeFileSync(join(out, 'report.txt'), report);
  return { outcomes, dataset, report, out };
}

/** Copy the shipped files (or the first `docs` documents and their questions) into the demo folder. */
function writeDemoData(demoDir: string, out: string, docs: number | undefined): { corpusFile: string; dataset: Dataset } {
  const corpusFile = join(out, 'corpus.jsonl');
  const questionsFile = join(out, 'questions.jsonl');
  if (!existsSync(join(demoDir, 'corpus.jsonl'))) throw new StepInputError(`the demo corpus is missing from ${demoDir}`);
  if (docs === undefined) {
    copyFileSync(join(demoDir, 'corpus.jsonl'), corpusFile);
    copyFileSync(join(demoDir, 'questions.jsonl'), questionsFile);
  } else {
    const kept = loadJsonlCorpus(join(demoDir, 'corpus.jsonl')).slice(0, docs);
    const ids = new Set(kept.map((d) => d.id));
    const questions = loadJsonlQa(join(demoDir, 'questions.jsonl')).examples.filter((q) => q.goldDocIds?.some((id) => ids.has(id)));
    writeFileSync(corpusFile, kept.map((d) => `${JSON.stringify(d)}\n`).join(''));
    const record = (q: (typeof questions)[number]) =>
      JSON.stringify({ id: q.id, question: q.question, answers: q.answers, choices: q.choices, gold_doc_ids: q.goldDocIds });
    writeFileSync(questionsFile, questions.map((q) => `${record(q)}\n`).join(''));
  }
  return { corpusFile, dataset: loadJsonlQa(questionsFile, 'demo') };
}

/** The per-method table, a few questions side by side, and a plain statement of whether the adapters helped. */
export function formatDemoReport(outcomes: MethodOutcome[], dataset: Dataset): string {
  const lines: string[] = [];
  const pad = (s: string, w: number) => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
  lines.push(`${pad('method', 13)}${pad('accuracy', 10)}${pad('correct', 10)}s/question`);
  for (const o of outcomes) {
    const right = o.predictions.filter((p) => p.score === 1).length;
    const acc = o.metrics.accuracy ?? o.metrics.score;
    lines.push(
      `${pad(o.method, 13)}${pad(acc.toFixed(3), 10)}${pad(`${right}/${o.metrics.n}`, 10)}${(o.seconds / Math.max(o.metrics.n, 1)).toFixed(2)}`,
    );
  }
  const byMethod = new Map(outcomes.map((o) => [o.method, new Map(o.predictions.map((p) => [p.id, p]))]));
  const shown = dataset.examples.filter((_, i) => i % Math.max(1, Math.floor(dataset.examples.length / 5)) === 0).slice(0, 5);
  lines.push('', `${pad('question', 52)}${pad('gold', 20)}${outcomes.map((o) => pad(o.method, 20)).join('')}`);
  for (const ex of shown) {
    const cells = outcomes.map((o) => {
      const p = byMethod.get(o.method)?.get(ex.id);
      return pad(p ? `${p.score === 1 ? '+' : '-'} ${p.prediction}` : '', 20);
    });
    lines.push(`${pad(ex.question, 52)}${pad(ex.answers[0], 20)}${cells.join('')}`);
  }
  const acc = (m: Method) => {
    const o = outcomes.find((x) => x.method === m);
    return o ? (o.metrics.accuracy ?? o.metrics.score) : undefined;
  };
  const base = acc('wo_param');
  const rg = acc('cat_all_one');
  if (base !== undefined && rg !== undefined) {
    lines.push(
      '',
      rg > base
        ? `The adapters added knowledge: cat_all_one (retrieved adapters, no passages) ${rg.toFixed(3)} vs the base model ${base.toFixed(3)}.`
        : `The adapters did NOT add measurable knowledge in this run: cat_all_one ${rg.toFixed(3)} vs the base model ${base.toFixed(3)}.`,
    );
  }
  lines.push(`(${dataset.examples.length} questions about invented facts, each with 4 choices: chance is 0.25; + right, - wrong)`);
  return `${lines.join('\n')}\n`;
}
