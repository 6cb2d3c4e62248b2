import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { CentroidRouter, loadClusters } from '@rg/clustering';
import { CorpusStore, STORE_FILE } from '@rg/corpus';
import { loadModel, modelFingerprint, modelKeyName, OrtCausalLM, SentenceEncoder } from '@rg/engine';
import {
  type ComposeMode,
  type Dataset,
  engineAnswerModel,
  loadDaptAdapter,
  type Method,
  type MethodDeps,
  type MethodOutcome,
  NotDaptAdapterError,
  PROMPT_VERSION,
  type Prediction,
  runMethods,
  sampleExamples,
  storeAdapterSource,
} from '@rg/inference';
import { ComposeBuffers, type CompositionEntry, composeCat } from '@rg/lora';
import { DAPT_ADAPTER_ID, type WarmupAdapter } from '@rg/lora-trainer';
import { type BackendName, IndexMissingError, openRetriever, type Retriever } from '@rg/retriever';
import { InferenceInputError } from './infer-errors.js';
import { type AdapterScope, adapterScopeInStore, shapeOrDefaults } from './infer-scope.js';
import { checkAdaptersWarmup, openWarmup, refuseTrainedQuestions, withWarmup } from './infer-warmup.js';

const someLeftOut = (shape: Record<string, number | undefined>) => Object.values(shape).some((v) => v === undefined);

export interface InferSettings {
  model: string;
  home: string;
  threads: number;
  dataset: Dataset;
  methods: Method[];
  /** Corpus store (from rg corpus ingest, with a built index): needed by retrieval methods. */
  store?: string;
  backend: BackendName;
  /** Adapter store root: needed by the adapter methods and `warmup`. */
  adapters?: string;
  /** The clusters file of the store (rg cluster's clusters.json): needed by method cluster. */
  clusters?: string;
  /**
   * The adapters' shape and training run (part of the store key). Each left out is taken from what the adapter store
   * holds (it must hold one value for it), or rg encode's default when no method reads adapters.
   */
  rank?: number;
  alpha?: number;
  lr?: number;
  epochs?: number;
  /** The dataset segment the adapters were encoded under (default: the dataset's name). */
  adapterDataset?: string;
  gamma?: number;
  /** Weighting of the composed adapters (default cat: their sum, as published). */
  compose?: ComposeMode;
  /** Every composition weight times this (default 1; recorded in config.json and the folder name when not 1). */
  adapterScale?: number;
  /**
   * Stack the store's warm-up adapter (rg adapter warmup, same model and adapter dataset) under every method's
   * adapters at weight 1, and under none for wo_param and icl (the "base + warm-up" row).
   */
  warmup?: boolean;
  topk: number;
  maxNewTokens: number;
  sample?: number;
  seed: number;
  out: string;
}

export interface InferenceHooks {
  onMethodStart?: (method: Method, total: number) => void;
  onAnswer?: (method: Method, done: number, p: Prediction) => void;
  /** A line for the user (stderr): e.g. which adapter dataset was chosen. */
  onNote?: (text: string) => void;
}

const RETRIEVAL: Method[] = ['cat_all_one', 'icl', 'combine'];
const ADAPTERS: Method[] = ['cat_all_one', 'combine', 'oracle', 'dapt', 'cluster'];

/**
 * Answer a dataset with the paper's methods: load the model once, open what the methods need (corpus store and
 * index, adapter store and the scope of its adapters, DAPT adapter, clusters, warm-up), and run each method over the
 * same (sampled) questions. Every method writes its folder under `out` (runMethods' runDir), so a finished method is
 * read back rather than run again. What the caller can fix is an InferenceInputError.
 */
export async function runInference(s: InferSettings, hooks: InferenceHooks = {}): Promise<MethodOutcome[]> {
  const needsRetrieval = s.methods.some((m) => RETRIEVAL.includes(m));
  const needsClusters = s.methods.includes('cluster');
  if (needsClusters && (!s.store || !s.clusters))
    throw new InferenceInputError('method cluster needs --store (the corpus store rg cluster wrote its clusters into)');
  if (needsClusters && !existsSync(s.clusters!)) {
    throw new InferenceInputError(
      `method cluster: no clusters in ${s.store}: run rg cluster --store ${s.store} --k K, then rg cluster train`,
    );
  }
  const needsAdapters = s.methods.some((m) => ADAPTERS.includes(m));
  const needsStore = needsAdapters || s.warmup === true;
  if (needsRetrieval && !s.store)
    throw new InferenceInputError(`methods ${RETRIEVAL.join(', ')} need --store (a corpus store with a built index)`);
  if (s.store && !existsSync(join(s.store, STORE_FILE)))
    throw new InferenceInputError(`${s.store} is not a corpus store (no ${STORE_FILE}): run rg corpus ingest first`);

  const loaded = await loadModel(s.model, { home: s.home, pull: true });
  const name = modelKeyName(loaded.source);
  if (needsStore && s.adapters === undefined)
    throw new InferenceInputError(`methods ${ADAPTERS.join(', ')} and warmup need an adapter store (settings.adapters)`);
  const adapterRoot = s.adapters ?? '';
  const lm = await OrtCausalLM.load(loaded.config, loaded.weights, { threads: s.threads });
  const examples = sampleExamples(s.dataset.examples, s.sample, s.seed);
  const shape = { rank: s.rank, alpha: s.alpha, lr: s.lr, epochs: s.epochs };
  let scope: AdapterScope = { model: name, dataset: s.adapterDataset ?? s.dataset.name, ...shapeOrDefaults(shape) };

  let retriever: Retriever | undefined;
  let corpus: CorpusStore | undefined;
  let adapterStore: AdapterStore | undefined;
  let encoder: SentenceEncoder | undefined;
  let warmup: WarmupAdapter | undefined;
  try {
    const buffers = new ComposeBuffers();
    const deps: MethodDeps<CompositionEntry> = {
      model: engineAnswerModel(lm, loaded.tokenizer),
      compose: (entries, weights) => composeCat(entries, weights, buffers),
      releaseComposed: (composed) => buffers.release(composed),
    };
    if (needsRetrieval && s.store) {
      corpus = CorpusStore.open(s.store);
      deps.documents = corpus;
      retriever = await openRetriever(s.backend, { storeDir: s.store, home: s.home, threads: s.threads }).catch((e: Error) => {
        throw e instanceof IndexMissingError ? new InferenceInputError(e.message) : e;
      });
      deps.retriever = retriever;
    }
    if (needsStore) {
      if (!existsSync(adapterRoot))
        throw new InferenceInputError(`no adapter store at ${adapterRoot}: run rg encode first (or pass --adapters)`);
      adapterStore = AdapterStore.open(adapterRoot);
    }
    // The model's dimensions let a load name an adapter shaped for another model (rather than fail inside the graph).
    const loadOptions = { gamma: s.gamma, modelFingerprint: modelFingerprint(loaded.config, loaded.source), model: loaded.config };
    if (adapterStore && needsAdapters) {
      // dapt's own check below names the command that makes its adapter.
      const want = { model: name, dataset: scope.dataset, datasetGiven: s.adapterDataset !== undefined, shape };
      if (s.methods.some((m) => m !== 'dapt' && ADAPTERS.includes(m)))
        scope = adapterScopeInStore(adapterStore, adapterRoot, want, hooks.onNote);
      else if (someLeftOut(shape)) {
        // dapt alone: the shape from the store where it can tell, else the defaults (its own check names the command).
        try {
          scope = adapterScopeInStore(adapterStore, adapterRoot, want, hooks.onNote);
        } catch (e) {
          if (!(e instanceof InferenceInputError)) throw e;
        }
      }
      deps.adapters = storeAdapterSource(adapterStore, scope, loadOptions);
      if (s.methods.includes('dapt')) {
        const key = { ...scope, id: DAPT_ADAPTER_ID };
        const dapt = await loadDaptAdapter(adapterStore, key, loadOptions).catch((e: unknown) => {
          if (!(e instanceof NotDaptAdapterError)) throw e;
          throw new InferenceInputError(
            `method dapt: ${e.relPath} in ${adapterRoot} is not a DAPT adapter (no kind "dapt" in its training config)`,
          );
        });
        if (!dapt) {
          throw new InferenceInputError(
            `method dapt: no DAPT adapter in the adapter store ${adapterRoot} under model ${scope.model}, rank ${scope.rank}, alpha ${scope.alpha}, dataset ${scope.dataset}, lr ${scope.lr}, epochs ${scope.epochs}: run rg encode --dapt --input AUGMENTED.jsonl --store ${adapterRoot} --dataset ${scope.dataset} --rank ${scope.rank} --alpha ${scope.alpha} --lr ${scope.lr} --epochs ${scope.epochs}`,
          );
        }
        deps.dapt = dapt;
      }
      if (needsClusters) {
        // Questions are routed with the encoder that embedded the documents for k-means (rg cluster).
        const sentenceEncoder = await SentenceEncoder.miniLM(s.home, { threads: s.threads });
        encoder = sentenceEncoder;
        const router = new CentroidRouter(loadClusters(s.clusters!), (texts) => sentenceEncoder.embed(texts));
        deps.clusters = { router, adapters: deps.adapters };
      }
    }
    if (adapterStore && s.warmup) {
      warmup = openWarmup(adapterStore, scope, loadOptions);
      refuseTrainedQuestions(warmup, s.dataset, examples);
      deps.model = withWarmup(deps.model, warmup.weights);
    }
    if (adapterStore && needsAdapters) {
      // Adapters trained on top of a warm-up are only meaningful over that same warm-up (sha256), and never without it.
      const entries = adapterStore
        .list({ model: scope.model, rank: scope.rank, alpha: scope.alpha, dataset: scope.dataset, lr: scope.lr, epochs: scope.epochs })
        .filter((e) => 'id' in e.key);
      const plain = checkAdaptersWarmup(entries, warmup?.identity ?? null);
      if (warmup && plain > 0)
        hooks.onNote?.(
          `--warmup: ${plain} adapter(s) of this scope were trained on the base model alone; the warm-up is stacked under them too`,
        );
    }

    return await runMethods(s.dataset, examples, deps, {
      methods: s.methods,
      topk: s.topk,
      maxNewTokens: s.maxNewTokens,
      instruction: s.dataset.instruction,
      compose: s.compose ?? 'cat',
      adapterScale: s.adapterScale,
      out: s.out,
      coordinates: { ...scope, dataset: s.dataset.name },
      config: (compose) => ({
        model: s.model,
        modelName: name,
        modelPath: loaded.source.path,
        corpusStore: s.store ?? null,
        retriever: s.store ? s.backend : null,
        adapterStore: needsStore ? adapterRoot : null,
        adapterScope: scope,
        gamma: s.gamma ?? null,
        ...(compose ? { compose } : {}),
        // Only when stacked, so the config.json of a run without it (and its resume) is as before.
        ...(warmup
          ? { warmup: { ...warmup.identity, trainedOn: { ...warmup.trainedOn, questionIds: warmup.trainedOn.questionIds.length } } }
          : {}),
        sample: s.sample ?? null,
        seed: s.seed,
        promptVersion: PROMPT_VERSION,
      }),
      onMethodStart: hooks.onMethodStart,
      onAnswer: hooks.onAnswer,
    });
  } finally {
    await retriever?.close();
    corpus?.close();
    adapterStore?.close();
    await encoder?.close();
    await lm.dispose();
  }
}
