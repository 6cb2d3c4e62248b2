import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AdapterStore, type DocAdapterKey } from '@rg/adapter-store';
import { CorpusStore } from '@rg/corpus';
import { createAnswerer, storeAdapterSource } from '@rg/inference';
import { ComposeBuffers, type CompositionEntry, composeCat, type LoraWeights } from '@rg/lora';
import { DEFAULT_TARGETS, type EncodeContext, loadOrInitBaseWeight } from '@rg/lora-trainer';
import type { Retriever } from '@rg/retriever';
import { adoptStoredAdapters } from './adopt.js';
import { toAnswerResult, validateRequest } from './answer.js';
import { newDocument } from './documents.js';
import { openIndex } from './index-open.js';
import { JobStore, jobStatus } from './jobs.js';
import { listDocuments } from './list-documents.js';
import { Runner } from './runner.js';
import { CollectionSettingsError, collectionPath, createSettings, readSettings, SETTINGS_FILE, writeSettings } from './settings.js';
import { checkpointDir, type StepContext } from './steps.js';
import type {
  AnswerRequest,
  AnswerResult,
  Collection,
  CollectionSettings,
  DocumentInfo,
  DocumentPage,
  JobState,
  JobStatus,
  ListDocumentsOptions,
  ModelRuntime,
  NewDocument,
  OpenCollectionOptions,
  WarmResult,
} from './types.js';

/**
 * Opens the collection in `dir` (its collection.json), or creates one there when `options.create` is given and the
 * folder holds none. Creating adopts what is already in the folders the settings name: a corpus store (indexed
 * now if it has no index) and an adapter store with adapters of this model (their dataset and recipe are taken when
 * not given; see adoptStoredAdapters), so `rg demo` or `rg encode` output can be served as it is. collection.json is
 * written last. Jobs that a killed process left unfinished go on in the background (unless `runJobs: false`).
 */
export async function openCollection(dir: string, runtime: ModelRuntime, options: OpenCollectionOptions = {}): Promise<Collection> {
  const root = resolve(dir);
  let settings = readSettings(root);
  const create = settings ? undefined : options.create;
  if (!settings && !create) {
    throw new CollectionSettingsError(`${join(root, SETTINGS_FILE)}: no collection here (open it with create settings to make one)`);
  }
  if (create) {
    mkdirSync(root, { recursive: true });
    settings = createSettings(root, create);
  }
  const opened: Array<() => unknown> = [];
  try {
    const adapters = AdapterStore.open(collectionPath(root, settings!.adapterDir));
    opened.push(() => adapters.close());
    if (create)
      settings = adoptStoredAdapters(settings!, create, adapters, runtime.modelName, `${join(root, SETTINGS_FILE)} (create settings)`);
    const s = settings!;
    const corpusDir = collectionPath(root, s.corpusDir);
    const corpus = CorpusStore.open(corpusDir);
    opened.push(() => corpus.close());
    const retriever = await openIndex(corpusDir, s.backend, corpus, runtime);
    opened.push(() => retriever.close());
    const jobs = new JobStore(root);
    opened.push(() => jobs.close());
    if (create) writeSettings(root, s);
    const collection = new LiveCollection(root, s, runtime, { corpus, retriever, adapters, jobs });
    await collection.start(options.runJobs ?? true);
    return collection;
  } catch (e) {
    for (const close of opened.reverse()) await Promise.resolve(close()).catch(() => {});
    throw e;
  }
}

interface Stores {
  corpus: CorpusStore;
  retriever: Retriever;
  adapters: AdapterStore;
  jobs: JobStore;
}

class LiveCollection implements Collection {
  readonly name: string;
  private readonly scope: Omit<DocAdapterKey, 'id'>;
  private readonly steps: StepContext;
  private runner: Runner | undefined;
  private encode: Promise<EncodeContext> | undefined;
  private closed = false;
  // Every request's composition is written into arrays an earlier request gave back (see ComposeBuffers), in shared
  // memory when the model decodes in a worker thread.
  private readonly composeBuffers: ComposeBuffers;

  constructor(
    readonly dir: string,
    readonly settings: CollectionSettings,
    private readonly runtime: ModelRuntime,
    private readonly stores: Stores,
  ) {
    this.name = settings.name;
    this.composeBuffers = new ComposeBuffers(undefined, runtime.worker === true);
    const r = settings.recipe;
    this.scope = { model: runtime.modelName, rank: r.rank, alpha: r.alpha, dataset: settings.adapterDataset, lr: r.lr, epochs: r.epochs };
    this.steps = {
      corpus: stores.corpus,
      retriever: stores.retriever,
      adapters: stores.adapters,
      scope: this.scope,
      recipe: r,
      checkpointsDir: join(dir, '.checkpoints'),
      beforeTrainingBatch: (signal) => runtime.requests?.idle(signal) ?? Promise.resolve(),
      encodeContext: () => {
        this.encode ??= this.makeEncodeContext();
        // A failure (e.g. no chat template) fails this job; the next one tries again.
        this.encode.catch(() => {
          this.encode = undefined;
        });
        return this.encode;
      },
    };
  }

  /** Finishes deletions a killed process left half done, requeues its jobs, starts the runner. */
  async start(runJobs: boolean): Promise<void> {
    for (const id of this.stores.jobs.unfinishedDeletions()) await this.removeDocument(id);
    if (!runJobs) return;
    this.stores.jobs.requeueOrphans();
    this.runner = new Runner(this.stores.jobs, this.steps);
    this.runner.start();
  }

  async answer(request: AnswerRequest): Promise<AnswerResult> {
    this.checkOpen();
    const method = request.method ?? this.settings.answer.method;
    validateRequest(request, method);
    const deps = {
      model: this.runtime.answerModel,
      retriever: this.stores.retriever,
      documents: this.stores.corpus,
      adapters: storeAdapterSource(this.stores.adapters, this.scope, {
        modelFingerprint: this.runtime.fingerprint,
        model: this.runtime.config,
      }),
      compose: (entries: CompositionEntry[], weights?: readonly number[]) => composeCat(entries, weights, this.composeBuffers),
      releaseComposed: (composed: LoraWeights) => this.composeBuffers.release(composed),
    };
    const answerer = createAnswerer(deps, {
      method,
      topk: request.k ?? this.settings.answer.k,
      maxNewTokens: request.maxNewTokens ?? this.settings.answer.maxNewTokens,
      compose: request.compose ?? this.settings.answer.compose,
    });
    // Training in this process pauses between its micro-batches until the answer is done (RequestGate).
    const leave = this.runtime.requests?.enter();
    try {
      const answer = await answerer.answer(request.question, {
        messages: request.messages,
        raw: request.raw,
        adapters: request.adapters,
        temperature: request.temperature,
        seed: request.seed,
        onDelta: request.onDelta,
        signal: request.signal,
      });
      return toAnswerResult(method, answer);
    } finally {
      leave?.();
    }
  }

  addDocument(doc: NewDocument): { jobId: string; documentId: string } {
    this.checkOpen();
    const document = newDocument(doc);
    const job = this.stores.jobs.add(document);
    // An earlier job of the same document (older text) was cancelled with the insert: stop its training.
    this.runner?.interrupt(document.id, 'superseded');
    this.runner?.wake();
    return { jobId: job.id, documentId: document.id };
  }

  job(id: string): JobStatus | undefined {
    const job = this.stores.jobs.get(id);
    return job && jobStatus(job);
  }

  pendingJobs(): JobStatus[] {
    return this.stores.jobs.pending().map(jobStatus);
  }

  jobCounts(): Record<JobState, number> {
    return this.stores.jobs.countByState();
  }

  adapterCacheStats(): { hits: number; misses: number } {
    return this.stores.adapters.cacheStats;
  }

  warmAdapters(signal?: AbortSignal): Promise<WarmResult> {
    this.checkOpen();
    const keys = this.stores.adapters.list(this.scope).map((e) => e.key);
    return this.stores.adapters.warm(keys, { modelFingerprint: this.runtime.fingerprint, model: this.runtime.config, signal });
  }

  document(id: string): DocumentInfo | undefined {
    // A document whose add job has not ingested it yet is already the collection's (and its newest text).
    const pending = this.stores.jobs.pendingFor(id)?.document;
    const doc = pending ?? this.stores.corpus.get(id);
    if (!doc) return undefined;
    return {
      id,
      ...(doc.title ? { title: doc.title } : {}),
      text: doc.text,
      metadata: doc.metadata ?? {},
      hasAdapter: this.stores.adapters.get({ ...this.scope, id }) !== undefined,
    };
  }

  documentCount(): number {
    return this.stores.corpus.count();
  }

  listDocuments(options?: ListDocumentsOptions): DocumentPage {
    this.checkOpen();
    return listDocuments(this.stores, this.scope, options);
  }

  async deleteDocument(id: string): Promise<boolean> {
    this.checkOpen();
    const known = this.document(id) !== undefined;
    if (!known) return false;
    // Recorded first: a process killed during the removal finishes it at the next open.
    this.stores.jobs.beginDeletion(id);
    this.runner?.interrupt(id, 'deleted');
    await this.removeDocument(id);
    return true;
  }

  whenIdle(): Promise<void> {
    return this.runner?.whenIdle() ?? Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.runner?.stop();
    await this.stores.retriever.close();
    this.stores.corpus.close();
    this.stores.adapters.close();
    this.stores.jobs.close();
  }

  /**
   * Index entries first (the next answer no longer finds it), then the adapter and any training checkpoint, then the
   * text; under the runner's step lock, so that a step of the document's job cannot write any of them back.
   */
  private async removeDocument(id: string): Promise<void> {
    const remove = async () => {
      await this.stores.retriever.delete([id]);
      this.stores.adapters.delete({ ...this.scope, id });
      rmSync(checkpointDir(this.steps, id), { recursive: true, force: true });
      this.stores.corpus.delete([id]);
      this.stores.jobs.endDeletion(id);
    };
    await (this.runner ? this.runner.exclusive(remove) : remove());
  }

  /** The training run of this collection: the runtime's shared session, and the base_weight of the adapter store. */
  private async makeEncodeContext(): Promise<EncodeContext> {
    const { rank, alpha, seed } = this.settings.recipe;
    const baseKey = { model: this.runtime.modelName, rank, alpha };
    // An adopted store's base_weight may target other modules than the default: every adapter starts from it.
    const targets = this.stores.adapters.get(baseKey)
      ? this.stores.adapters.load(baseKey, { modelFingerprint: this.runtime.fingerprint }).config.targetModules
      : DEFAULT_TARGETS;
    const base = loadOrInitBaseWeight(this.stores.adapters, this.runtime.config, {
      modelName: this.runtime.modelName,
      fingerprint: this.runtime.fingerprint,
      rank,
      alpha,
      targets: targets as typeof DEFAULT_TARGETS,
      seed,
    });
    return {
      session: await this.runtime.trainingSession(targets as typeof DEFAULT_TARGETS),
      encoder: this.runtime.tokenizer,
      store: this.stores.adapters,
      base,
      scope: this.scope,
      modelFingerprint: this.runtime.fingerprint,
    };
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`collection ${this.name} (${this.dir}) is closed`);
  }
}
