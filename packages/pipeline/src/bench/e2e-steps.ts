import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Augmenter, defaultConcurrency, openGenerator, readPassages, TemplateAugmenter } from '@rg/augment';
import type { ClusterModel } from '@rg/clustering';
import { CorpusStore } from '@rg/corpus';
import type { LoraTarget } from '@rg/engine';
import { type Dataset, type Method, type MethodOutcome, sampleExamples } from '@rg/inference';
import { DEFAULT_TARGETS } from '@rg/lora-trainer';
import { corpusPassages } from '../augment-corpus.js';
import { fieldsFromAugmented } from '../build-index.js';
import { EMBEDDINGS_FILE } from '../cluster-embeddings.js';
import { clusterReported, clusterSummary, clusterTrainReported, formatClusterSummary } from '../cluster-reported.js';
import { clustersPath } from '../cluster-store.js';
import type { EncodeFileOptions } from '../encode-file.js';
import type { InferSettings } from '../infer-dataset.js';
import {
  augmentReported,
  daptReported,
  encodeReported,
  indexReported,
  inferReported,
  ingestReported,
  type RunEnvironment,
} from '../reported.js';
import { recipeFlags, type TrainerSettings, trainerOptions } from '../training-settings.js';
import { warmupReported } from '../warmup-reported.js';
import { type CorpusInput, writeNeededDocuments } from './e2e-corpus.js';
import { type E2eAnswers, type E2eColumns, type E2eSettings, NO_DAPT } from './e2e-types.js';

/** rg encode's (and rg adapter warmup's) defaults of the training settings the e2e table does not take. */
const ENCODE_DEFAULTS: Pick<TrainerSettings, 'mode' | 'batchSize' | 'gradAccumulation' | 'maxTokens'> & { targets: LoraTarget[] } = {
  mode: 'lora',
  batchSize: 1,
  gradAccumulation: 1,
  maxTokens: 1024,
  targets: [...DEFAULT_TARGETS],
};

/** rg cluster's defaults of the k-means settings the e2e table does not take. */
const CLUSTER_DEFAULTS = { pick: 'centroid', maxIterations: 100, tolerance: 1e-6, refit: false } as const;

/** What the table runs on and reports to, and the augmenter its generator settings name. */
export interface E2eEnvironment extends RunEnvironment {
  /**
   * The augmenter to use; default: the settings' generator (@rg/augment openGenerator: the template, or the local
   * model at q4 on this environment's model, home and threads).
   */
  augmenter?: () => Promise<Augmenter>;
}

/** What the run is about, resolved from the settings. */
export interface E2eInputs {
  /** The run's folder, the datasets' folder, the dataset spec (jsonl: with an absolute path) and the loaded dataset. */
  out: string;
  dataDir: string;
  spec: string;
  dataset: Dataset;
  /** The warm-up's split (settings.warmup). */
  warmupSplit?: string;
  ingest: CorpusInput;
}

/** The number of steps trainColumns and answerColumns announce, for the step counter. */
export function e2eStepCount(s: E2eSettings): number {
  return 7 + 4 * s.clusterK.length + (s.warmup ? 1 : 0) + (s.tags ? 1 : 0);
}

interface Run extends E2eInputs {
  settings: E2eSettings;
  env: E2eEnvironment;
}

/**
 * Every step before the answers: the corpus ingested and indexed, the documents the sampled questions need
 * selected, augmented and encoded (per document, DAPT, the warm-up under them), and per k a store of those documents
 * clustered with one adapter per cluster. Each step skips what a previous run finished. The trainer's and
 * clustering's errors pass through (another recipe stored in the same folder, clusters of other settings).
 */
export async function trainColumns(settings: E2eSettings, inputs: E2eInputs, env: E2eEnvironment): Promise<E2eColumns> {
  const run: Run = { ...inputs, settings, env };
  const corpus = await indexCorpus(run);
  // Only the documents the sampled questions retrieve (and their gold documents, for the oracle) get adapters:
  // the method's corpus filtering, which keeps encoding proportional to the sample, not to the corpus. DAPT and
  // the clusters are trained on the same documents, so every column holds the same data.
  env.steps.announce(`select the documents the ${settings.sample} sampled questions need`);
  const examples = sampleExamples(inputs.dataset.examples, settings.sample, settings.seed);
  const docsFile = join(inputs.out, 'encode-docs.jsonl');
  const documentIds = await writeNeededDocuments(corpus, examples, settings.topk, docsFile);
  const encode = await trainAdapters(run, docsFile);
  const clusterRuns: E2eColumns['clusterRuns'] = [];
  for (const k of settings.clusterK) clusterRuns.push(await clusterColumn(run, k, docsFile, documentIds.length, encode, clusterRuns));
  return { corpus, examples, documentIds, adapters: encode.store, clusterRuns };
}

/** The corpus ingested and indexed for BM25 (with tags, with the template's tags and descriptions); its store folder. */
async function indexCorpus({ settings, env, out, ingest }: Run): Promise<string> {
  const { reporter: r, steps } = env;
  const corpus = join(out, 'corpus');
  const indexTags = join(out, 'corpus-tags.jsonl');
  const store = CorpusStore.open(corpus, { create: true });
  try {
    steps.announce('ingest the corpus');
    await ingestReported(r, store, ingest.file, { format: ingest.format });
    if (settings.tags) {
      steps.announce('augment the whole corpus for index tags (template)');
      // rg augment's defaults: the template generator, 3 QA pairs (the tags and description do not depend on them).
      await augmentReported(r, corpusPassages(store), indexTags, new TemplateAugmenter({ qaCount: 3 }));
    }
    steps.announce(settings.tags ? 'index it for BM25 with tags and descriptions' : 'index it for BM25');
    const fields = settings.tags ? (await fieldsFromAugmented(indexTags, store)).fields : undefined;
    await indexReported(r, store, 'sqlite', { home: env.home, threads: env.threads, env: env.env, fields });
  } finally {
    store.close();
  }
  return corpus;
}

/** The trainer's settings of the run's encode steps: rg encode's defaults for what the table has no setting of. */
function documentTraining(settings: E2eSettings) {
  return trainerOptions({
    ...ENCODE_DEFAULTS,
    ...settings,
    // As rg encode receives them: the distillation settings only with an objective that uses them.
    distillTopk: settings.objective === 'lm' ? undefined : settings.distillTopk,
    distillWeight: settings.objective === 'both' ? settings.distillWeight : undefined,
  });
}

/**
 * The documents augmented, the warm-up trained (settings.warmup), one adapter per document and the DAPT adapter
 * encoded; the encoders' options, which the cluster adapters share.
 */
async function trainAdapters(run: Run, docsFile: string): Promise<EncodeFileOptions> {
  const { settings, env, out, dataset } = run;
  const { reporter: r, steps } = env;
  const augmented = join(out, 'augmented.jsonl');
  steps.announce('augment');
  if (!env.augmenter && settings.generator === 'local') r.info(`loading ${env.model} ...`);
  const augmenter = await (env.augmenter?.() ?? openGenerator(settings, env, env.env));
  const passages = (await readPassages(docsFile)).passages;
  const concurrency = settings.concurrency ?? defaultConcurrency(settings.generator);
  await augmentReported(r, passages, augmented, augmenter, { concurrency });
  const adapters = join(out, 'adapters');
  if (run.warmupSplit) await warmup(run, run.warmupSplit, adapters);
  const encode: EncodeFileOptions = {
    model: env.model,
    home: env.home,
    threads: env.threads,
    input: augmented,
    store: adapters,
    dataset: dataset.name,
    rank: settings.rank,
    alpha: settings.alpha,
    training: documentTraining(settings),
    warmup: settings.warmup,
    gradientCheckpointing: settings.gradientCheckpointing,
  };
  const recipe = recipeFlags(settings);
  steps.announce(`encode one adapter per document (${recipe})`);
  await encodeReported(r, encode);
  if (settings.dapt) {
    steps.announce(`encode the DAPT baseline (one adapter on all documents; ${recipe})`);
    await daptReported(r, encode);
  } else steps.skip(`encode the DAPT baseline: skipped (${NO_DAPT})`, 1);
  return encode;
}

/** The warm-up adapter, stored beside the documents' adapters under the same dataset segment (where encode and infer look). */
async function warmup({ settings, env, spec, dataDir, dataset }: Run, split: string, adapters: string): Promise<void> {
  env.steps.announce(`train the warm-up adapter on ${settings.warmupN} ${split} questions`);
  const request = {
    ...ENCODE_DEFAULTS,
    spec,
    dataDir,
    split,
    n: settings.warmupN,
    // The sampled questions are never among the warm-up's when they come from the same split.
    exclude: split === dataset.split ? { sample: settings.sample, seed: settings.seed } : undefined,
    store: adapters,
    adapterDataset: dataset.name,
    rank: settings.rank,
    alpha: settings.alpha,
    lr: settings.warmupLr,
    epochs: settings.warmupEpochs,
    seed: settings.seed,
  };
  env.reporter.info((await warmupReported(env.reporter, env, request)).line);
}

/**
 * The column of one k: a corpus store of the filtered documents (each k keeps its own clusters.json; the document
 * vectors are computed once, copied from the first k's store), k-means, one adapter per cluster on its
 * representatives. A k above the documents has no column.
 */
async function clusterColumn(
  { settings, env, out }: Run,
  k: number,
  docsFile: string,
  documents: number,
  encode: EncodeFileOptions,
  earlier: E2eColumns['clusterRuns'],
): Promise<E2eColumns['clusterRuns'][number]> {
  const { reporter: r, steps } = env;
  const kStore = join(out, 'clusters', `k=${k}`);
  if (k > documents) {
    const why = `k=${k} exceeds the ${documents} documents to cluster`;
    steps.skip(`cluster k=${k}: skipped (${why})`, 4);
    return { k, store: kStore, why };
  }
  steps.announce(`cluster k=${k}: a store of the ${documents} documents`);
  const first = earlier.find((run) => !run.why);
  const store = CorpusStore.open(kStore, { create: true });
  let clusters: ClusterModel;
  try {
    await ingestReported(r, store, docsFile);
    if (first && !existsSync(join(kStore, EMBEDDINGS_FILE)) && existsSync(join(first.store, EMBEDDINGS_FILE))) {
      if (!existsSync(join(first.store, `${EMBEDDINGS_FILE}-wal`)))
        copyFileSync(join(first.store, EMBEDDINGS_FILE), join(kStore, EMBEDDINGS_FILE));
    }
    steps.announce(`cluster k=${k}: k-means`);
    // rg cluster's defaults, the embedded vector backend (the k's own store) and the run's seed.
    const options = {
      ...CLUSTER_DEFAULTS,
      k,
      representatives: settings.representatives,
      seed: settings.seed,
      home: env.home,
      threads: env.threads,
      vectorBackend: 'embedded' as const,
      env: env.env,
    };
    const { run, file } = await clusterReported(r, kStore, store, options);
    r.info(formatClusterSummary(clusterSummary(run.model, file)));
    clusters = run.model;
  } finally {
    store.close();
  }
  // The representatives are among the filtered documents, so their augmented records are already in augmented.jsonl.
  // rg cluster train's recipe is the documents' one without the objective (cluster adapters train lm) or the warm-up.
  steps.announce(`cluster k=${k}: one adapter per cluster on its representatives`);
  const training = trainerOptions({
    ...ENCODE_DEFAULTS,
    ...settings,
    objective: undefined,
    distillTopk: undefined,
    distillWeight: undefined,
  });
  await clusterTrainReported(r, { ...encode, warmup: undefined, training, clusters, on: 'representatives' });
  return { k, store: kStore };
}

/**
 * The sampled questions answered by every method (runInference), each into its own run folder under `out`, so a
 * finished method is read back.
 */
export async function answerColumns(
  settings: E2eSettings,
  inputs: Pick<E2eInputs, 'dataset' | 'out'>,
  env: E2eEnvironment,
  { corpus, examples, adapters, clusterRuns }: E2eColumns,
): Promise<E2eAnswers> {
  const { reporter: r, steps } = env;
  const methods: Method[] = ['wo_param', 'icl', 'cat_all_one', 'combine', ...(settings.dapt ? (['dapt'] as const) : [])];
  if (examples.every((e) => e.goldDocIds?.length)) methods.push('oracle');
  steps.announce(`answer ${examples.length} questions with ${methods.join(', ')}`);
  const infer: InferSettings = {
    model: env.model,
    home: env.home,
    threads: env.threads,
    dataset: { ...inputs.dataset, examples },
    methods,
    store: corpus,
    backend: 'sqlite',
    adapters,
    rank: settings.rank,
    alpha: settings.alpha,
    lr: settings.lr,
    epochs: settings.epochs,
    topk: settings.topk,
    compose: settings.compose,
    adapterScale: settings.adapterScale,
    maxNewTokens: 32,
    seed: settings.seed,
    warmup: settings.warmup,
    clusters: clustersPath(corpus),
    // Apart from the untagged run's answers: a run resumes by its config, which does not name the index.
    out: join(inputs.out, settings.tags ? 'output-tags' : 'output'),
  };
  const outcomes = await inferReported(r, infer);
  // With the warm-up, base and RAG are also answered without it: the references the other columns are measured against.
  const plain = settings.warmup
    ? await inferReported(r, { ...infer, methods: ['wo_param', 'icl'], warmup: false, out: join(infer.out, 'no-warmup') })
    : [];
  const clusterOutcomes = new Map<number, MethodOutcome>();
  for (const run of clusterRuns) {
    if (run.why) continue;
    steps.announce(`answer ${examples.length} questions with cluster k=${run.k} (top ${settings.clusterTop})`);
    // The k's own store routes the questions; its run folder is apart from the other k's.
    const [o] = await inferReported(r, {
      ...infer,
      methods: ['cluster'],
      store: run.store,
      clusters: clustersPath(run.store),
      topk: settings.clusterTop,
      out: join(inputs.out, 'output', `cluster-k=${run.k}`),
    });
    clusterOutcomes.set(run.k, o);
  }
  return { outcomes, plain, clusterOutcomes };
}
