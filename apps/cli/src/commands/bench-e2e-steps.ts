import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConcurrency, readPassages, TemplateAugmenter } from '@rg/augment';
import type { ClusterModel } from '@rg/clustering';
import { CorpusStore } from '@rg/corpus';
import { type Dataset, type Method, type MethodOutcome, sampleExamples } from '@rg/inference';
import { DEFAULT_TARGETS } from '@rg/lora-trainer';
import {
  augmentReported,
  clusterReported,
  clusterSummary,
  clusterTrainReported,
  corpusPassages,
  daptReported,
  EMBEDDINGS_FILE,
  type EncodeFileOptions,
  encodeReported,
  formatClusterSummary,
  indexReported,
  ingestReported,
  warmupReported,
} from '@rg/pipeline';
import { type CorpusInput, type E2eAnswers, type E2eColumns, type E2eSettings, NO_DAPT, writeNeededDocuments } from '@rg/pipeline/bench';
import type { Config } from '../config.js';
import type { CliContext } from '../context.js';
import type { InferSettings } from '../infer/pipeline.js';
import { inferWithProgress, type stepCounter } from '../infer/steps.js';
import { objectiveArgs, recipeArgs, type TrainerFlags, trainerOptions, trainingErrorsAsUsage } from '../train/run.js';
import { makeAugmenter } from './augment.js';
import { clusteringAsUsage } from './cluster.js';
import { readRetrievalFields } from './index-cmd.js';

/** rg encode's (and rg adapter warmup's) defaults of the training flags bench e2e does not take. */
const ENCODE_DEFAULTS: Pick<TrainerFlags, 'mode' | 'batchSize' | 'gradAccumulation' | 'maxTokens' | 'targets'> = {
  mode: 'lora',
  batchSize: 1,
  gradAccumulation: 1,
  maxTokens: 1024,
  targets: [...DEFAULT_TARGETS],
};

/** rg cluster's defaults of the k-means settings bench e2e does not take. */
const CLUSTER_DEFAULTS = { pick: 'centroid', maxIterations: 100, tolerance: 1e-6, refit: false } as const;

/** rg bench e2e's flags: the run's settings, where it writes, and --json. */
export interface E2eFlags extends E2eSettings {
  out: string;
  json?: boolean;
}

/** What the run is about, resolved from the flags. */
export interface E2eInputs {
  /** The run's folder, the datasets' folder, the dataset spec (jsonl: with an absolute path) and the loaded dataset. */
  out: string;
  dataDir: string;
  spec: string;
  dataset: Dataset;
  /** The warm-up's split (--warmup). */
  warmupSplit?: string;
  ingest: CorpusInput;
}

/**
 * Every step before the answers, as @rg/pipeline calls: the corpus ingested and indexed, the documents the sampled
 * questions need selected, augmented and encoded (per document, DAPT, the warm-up under them), and per k a store of
 * those documents clustered with one adapter per cluster. Each step skips what a previous run finished.
 */
export async function trainColumns(ctx: CliContext, config: Config, flags: E2eFlags, steps: Steps, inputs: E2eInputs): Promise<E2eColumns> {
  const run: Run = { ctx, config, flags, steps, ...inputs };
  const corpus = await indexCorpus(run);
  // Only the documents the sampled questions retrieve (and their gold documents, for the oracle) get adapters:
  // the method's corpus filtering, which keeps encoding proportional to the sample, not to the corpus. DAPT and
  // the clusters are trained on the same documents, so every column holds the same data.
  steps.announce(`select the documents the ${flags.sample} sampled questions need`);
  const examples = sampleExamples(inputs.dataset.examples, flags.sample, flags.seed);
  const docsFile = join(inputs.out, 'encode-docs.jsonl');
  const documentIds = await writeNeededDocuments(corpus, examples, flags.topk, docsFile);
  const encode = await trainAdapters(run, docsFile);
  const clusterRuns: E2eColumns['clusterRuns'] = [];
  for (const k of flags.clusterK) clusterRuns.push(await clusterColumn(run, k, docsFile, documentIds.length, encode, clusterRuns));
  return { corpus, examples, documentIds, adapters: encode.store, clusterRuns };
}

type Steps = ReturnType<typeof stepCounter>;
type Run = E2eInputs & { ctx: CliContext; config: Config; flags: E2eFlags; steps: Steps };

/** The corpus ingested and indexed for BM25 (with --tags, with the template's tags and descriptions); its store folder. */
async function indexCorpus({ ctx, config, flags, steps, out, ingest }: Run): Promise<string> {
  const corpus = join(out, 'corpus');
  const indexTags = join(out, 'corpus-tags.jsonl');
  const store = CorpusStore.open(corpus, { create: true });
  try {
    steps.announce('ingest the corpus');
    await ingestReported(ctx.reporter(flags.json), store, ingest.file, ingest.format);
    if (flags.tags) {
      steps.announce('augment the whole corpus for index tags (template)');
      // rg augment's defaults: the template generator, 3 QA pairs (the tags and description do not depend on them).
      await augmentReported(ctx.reporter(flags.json), corpusPassages(store), indexTags, new TemplateAugmenter({ qaCount: 3 }));
    }
    steps.announce(flags.tags ? 'index it for BM25 with tags and descriptions' : 'index it for BM25');
    const tags = flags.tags ? (await readRetrievalFields(indexTags, store)).fields : undefined;
    await indexReported(ctx.reporter(flags.json), store, 'sqlite', {
      home: config.home,
      threads: config.threads,
      env: ctx.io.env,
      fields: tags,
    });
  } finally {
    store.close();
  }
  return corpus;
}

/**
 * The documents augmented, the warm-up trained (--warmup), one adapter per document and the DAPT adapter encoded;
 * the encoders' options, which the cluster adapters share.
 */
async function trainAdapters(run: Run, docsFile: string): Promise<EncodeFileOptions> {
  const { ctx, config, flags, steps, out, dataset } = run;
  const augmented = join(out, 'augmented.jsonl');
  steps.announce('augment');
  const augmenter = await makeAugmenter({ ...flags, weights: 'q4', llmTimeout: 120 }, ctx, config);
  const passages = (await readPassages(docsFile)).passages;
  await augmentReported(ctx.reporter(flags.json), passages, augmented, augmenter, { concurrency: defaultConcurrency(flags.generator) });
  const adapters = join(out, 'adapters');
  if (run.warmupSplit) await warmup(run, run.warmupSplit, adapters);
  // rg encode's defaults for everything bench e2e has no flag for (batch 1, 1024 tokens, the default targets).
  const encode: EncodeFileOptions = {
    model: config.model,
    home: config.home,
    threads: config.threads,
    input: augmented,
    store: adapters,
    dataset: dataset.name,
    rank: flags.rank,
    alpha: flags.alpha,
    training: trainerOptions({
      ...ENCODE_DEFAULTS,
      ...flags,
      // As rg encode receives them (objectiveArgs): the distillation settings only with an objective that uses them.
      distillTopk: flags.objective === 'lm' ? undefined : flags.distillTopk,
      distillWeight: flags.objective === 'both' ? flags.distillWeight : undefined,
    }),
    warmup: flags.warmup,
    gradientCheckpointing: flags.gradientCheckpointing,
  };
  const recipe = [...recipeArgs(flags), ...objectiveArgs(flags)].join(' ');
  const asUsage = trainingErrorsAsUsage('another --out DIR');
  steps.announce(`encode one adapter per document (${recipe})`);
  await encodeReported(ctx.reporter(flags.json), encode).catch(asUsage);
  if (flags.dapt) {
    steps.announce(`encode the DAPT baseline (one adapter on all documents; ${recipe})`);
    await daptReported(ctx.reporter(flags.json), encode).catch(asUsage);
  } else steps.skip(`encode the DAPT baseline: skipped (${NO_DAPT})`, 1);
  return encode;
}

/** The warm-up adapter, stored beside the documents' adapters under the same dataset segment (where encode and infer look). */
async function warmup({ ctx, config, flags, steps, spec, dataDir, dataset }: Run, split: string, adapters: string): Promise<void> {
  steps.announce(`train the warm-up adapter on ${flags.warmupN} ${split} questions`);
  const request = {
    ...ENCODE_DEFAULTS,
    spec,
    dataDir,
    split,
    n: flags.warmupN,
    // The sampled questions are never among the warm-up's when they come from the same split.
    exclude: split === dataset.split ? { sample: flags.sample, seed: flags.seed } : undefined,
    store: adapters,
    adapterDataset: dataset.name,
    rank: flags.rank,
    alpha: flags.alpha,
    lr: flags.warmupLr,
    epochs: flags.warmupEpochs,
    seed: flags.seed,
  };
  ctx.info((await warmupReported(ctx.reporter(flags.json), config, request).catch(trainingErrorsAsUsage('another --out DIR'))).line);
}

/**
 * The column of one k: a corpus store of the filtered documents (each k keeps its own clusters.json; the document
 * vectors are computed once, copied from the first k's store), k-means, one adapter per cluster on its
 * representatives. A k above the documents has no column.
 */
async function clusterColumn(
  { ctx, config, flags, steps, out }: Run,
  k: number,
  docsFile: string,
  documents: number,
  encode: EncodeFileOptions,
  earlier: E2eColumns['clusterRuns'],
): Promise<E2eColumns['clusterRuns'][number]> {
  const kStore = join(out, 'clusters', `k=${k}`);
  if (k > documents) {
    const why = `k=${k} exceeds the ${documents} documents to cluster`;
    steps.skip(`cluster k=${k}: skipped (${why})`, 4);
    return { k, store: kStore, why };
  }
  steps.announce(`cluster k=${k}: a store of the ${documents} documents`);
  const first = earlier.find((r) => !r.why);
  const store = CorpusStore.open(kStore, { create: true });
  let clusters: ClusterModel;
  try {
    await ingestReported(ctx.reporter(flags.json), store, docsFile);
    if (first && !existsSync(join(kStore, EMBEDDINGS_FILE)) && existsSync(join(first.store, EMBEDDINGS_FILE))) {
      if (!existsSync(join(first.store, `${EMBEDDINGS_FILE}-wal`)))
        copyFileSync(join(first.store, EMBEDDINGS_FILE), join(kStore, EMBEDDINGS_FILE));
    }
    steps.announce(`cluster k=${k}: k-means`);
    // rg cluster's defaults, the embedded vector backend (the k's own store) and the run's seed.
    const options = {
      ...CLUSTER_DEFAULTS,
      k,
      representatives: flags.representatives,
      seed: flags.seed,
      home: config.home,
      threads: config.threads,
      vectorBackend: 'embedded' as const,
      env: ctx.io.env,
    };
    const { run, file } = await clusterReported(ctx.reporter(flags.json), kStore, store, options).catch(clusteringAsUsage);
    ctx.info(formatClusterSummary(clusterSummary(run.model, file)));
    clusters = run.model;
  } finally {
    store.close();
  }
  // The representatives are among the filtered documents, so their augmented records are already in augmented.jsonl.
  // rg cluster train's recipe is the documents' one without the objective (cluster adapters train lm) or the warm-up.
  steps.announce(`cluster k=${k}: one adapter per cluster on its representatives`);
  const training = trainerOptions({ ...ENCODE_DEFAULTS, ...flags, objective: undefined, distillTopk: undefined, distillWeight: undefined });
  await clusterTrainReported(ctx.reporter(flags.json), { ...encode, warmup: undefined, training, clusters, on: 'representatives' }).catch(
    trainingErrorsAsUsage('another --out DIR'),
  );
  return { k, store: kStore };
}

/**
 * The sampled questions answered by every method (@rg/pipeline runInference), each into its own run folder under
 * `out`, so a finished method is read back.
 */
export async function answerColumns(
  ctx: CliContext,
  config: Config,
  flags: E2eFlags,
  steps: Steps,
  dataset: Dataset,
  out: string,
  { corpus, examples, adapters, clusterRuns }: E2eColumns,
): Promise<E2eAnswers> {
  const methods: Method[] = ['wo_param', 'icl', 'cat_all_one', 'combine', ...(flags.dapt ? (['dapt'] as const) : [])];
  if (examples.every((e) => e.goldDocIds?.length)) methods.push('oracle');
  steps.announce(`answer ${examples.length} questions with ${methods.join(', ')}`);
  const settings: InferSettings = {
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
    compose: flags.compose,
    adapterScale: flags.adapterScale,
    maxNewTokens: 32,
    seed: flags.seed,
    warmup: flags.warmup,
    // Apart from the untagged run's answers: a run resumes by its config, which does not name the index.
    out: join(out, flags.tags ? 'output-tags' : 'output'),
  };
  const outcomes = await inferWithProgress(ctx, settings, flags.json);
  // With the warm-up, base and RAG are also answered without it: the references the other columns are measured against.
  const plain = flags.warmup
    ? await inferWithProgress(
        ctx,
        { ...settings, methods: ['wo_param', 'icl'], warmup: false, out: join(settings.out, 'no-warmup') },
        flags.json,
      )
    : [];
  const clusterOutcomes = new Map<number, MethodOutcome>();
  for (const run of clusterRuns) {
    if (run.why) continue;
    steps.announce(`answer ${examples.length} questions with cluster k=${run.k} (top ${flags.clusterTop})`);
    // The k's own store routes the questions; its run folder is apart from the other k's.
    const [o] = await inferWithProgress(
      ctx,
      { ...settings, methods: ['cluster'], store: run.store, topk: flags.clusterTop, out: join(out, 'output', `cluster-k=${run.k}`) },
      flags.json,
    );
    clusterOutcomes.set(run.k, o);
  }

  return { outcomes, plain, clusterOutcomes };
}
