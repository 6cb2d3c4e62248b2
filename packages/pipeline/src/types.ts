/**
 * The contract of @rg/pipeline: what an app (the rg CLI, the HTTP server) or a user of the library sees.
 * A *runtime* is the loaded model (one per process, shared); a *collection* is a folder holding a corpus store, its
 * retrieval index and an adapter store for one training recipe. A collection answers questions with any method of
 * the paper and takes documents in and out live: an added document is ingested, indexed, augmented and encoded by a
 * durable background job (it survives kill -9 and resumes when the collection is opened again).
 */
import type { LoraTarget, ModelConfig, Tokenizer, TrainingSession, WeightFormat } from '@rg/engine';
import type { AnswerModel, ComposeMode, GenerateFn, Method } from '@rg/inference';
import type { ExampleLayout, LossSpan } from '@rg/lora-trainer';
import type { RequestGate } from './request-gate.js';

/** A chat turn (the OpenAI shape, text only). */
export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** How a collection trains its documents' adapters; fixed when the collection is created (it is part of the adapters' store key). */
export interface CollectionRecipe {
  rank: number;
  alpha: number;
  lr: number;
  epochs: number;
  examples: ExampleLayout;
  loss: LossSpan;
  /** QA pairs per document the augmenter makes (template generator). */
  qa: number;
  /** Examples longer than this many tokens are cut into windows (passage layout) or left out. */
  maxTokens: number;
  seed: number;
}

/** The defaults a request may override. */
export interface AnswerDefaults {
  method: Method;
  /** Documents retrieved (and adapters composed) per question. */
  k: number;
  compose: ComposeMode;
  maxNewTokens: number;
}

/** collection.json: written when a collection is created, read when it is opened. */
export interface CollectionSettings {
  name: string;
  /** Retrieval backend of the collection's index (the embedded default: bm25). */
  backend: string;
  /** Folders, relative to the collection's folder unless absolute (defaults "corpus" and "adapters"). */
  corpusDir: string;
  adapterDir: string;
  /** The dataset segment of the adapters' store key (default: the collection's name). */
  adapterDataset: string;
  recipe: CollectionRecipe;
  answer: AnswerDefaults;
}

export interface AnswerRequest {
  /** What is retrieved for, and asked when `messages` is absent. */
  question: string;
  /** The whole chat (the last user turn is normally `question`); passages go into the system turn as the methods do. */
  messages?: ChatTurn[];
  /** Plain completion: `question` is a raw prompt continued without the chat template. */
  raw?: boolean;
  method?: Method;
  k?: number;
  compose?: ComposeMode;
  /** Explicit adapters (ids of documents in this collection) with weights (default 1): no retrieval for adapters. */
  adapters?: Array<{ id: string; weight?: number }>;
  maxNewTokens?: number;
  /** 0 or absent: greedy. */
  temperature?: number;
  seed?: number;
  /** Text as it is generated (streaming). */
  onDelta?: (text: string) => void;
  /** Aborts the generation between tokens (client gone, timeout): the result then has finishReason "abort". */
  signal?: AbortSignal;
}

export interface AnswerTimings {
  retrieve_ms: number;
  fetch_ms: number;
  compose_ms: number;
  prefill_ms: number;
  decode_ms: number;
}

export interface AnswerResult {
  text: string;
  finishReason: 'stop' | 'length' | 'abort';
  promptTokens: number;
  completionTokens: number;
  method: Method;
  /** Retrieved documents, best first. */
  documents: Array<{ id: string; score: number }>;
  /** Adapters applied, with the weight each got. */
  adapters: Array<{ id: string; weight: number }>;
  /** Adapter ids that were asked for (retrieved or explicit) but have no adapter yet (e.g. still encoding). */
  missingAdapters: string[];
  timings: AnswerTimings;
}

export interface NewDocument {
  /** Default: a content hash (the same text added twice is the same document). */
  id?: string;
  title?: string;
  text: string;
  metadata?: Record<string, string | number | boolean>;
}

export const JOB_STEPS = ['ingest', 'index', 'augment', 'encode'] as const;
export type JobStep = (typeof JOB_STEPS)[number];
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobStatus {
  id: string;
  kind: 'add';
  documentId: string;
  state: JobState;
  /** The step running now, or the last one done. */
  step: JobStep | null;
  error?: string;
  /** ISO 8601. */
  createdAt: string;
  updatedAt: string;
}

export interface DocumentInfo {
  id: string;
  title?: string;
  text: string;
  metadata: Record<string, string | number | boolean>;
  /** Has an adapter in the collection's adapter store (under its recipe). */
  hasAdapter: boolean;
}

/** Where a listed document stands: indexed (retrievable) and adapted, or on its way, or stopped by a failed job. */
export interface DocumentSummary {
  id: string;
  title?: string;
  /**
   * `indexed`: its text is in the retrieval index; `pending`: its add job has not indexed its newest text yet;
   * `failed`: its newest add job failed after storing the text and before indexing it.
   */
  index: 'indexed' | 'pending' | 'failed';
  /**
   * `ready`: an adapter is stored under the collection's recipe; `pending`: its add job has not stored the adapter of
   * its newest text yet; `failed`: its newest add job failed and no adapter is stored; `none`: no adapter and no job
   * to make one (e.g. a corpus adopted without adapters).
   */
  adapter: 'ready' | 'pending' | 'failed' | 'none';
  /** The newest add job of the document, if any. */
  jobId?: string;
}

export interface ListDocumentsOptions {
  /** At most this many (default 100). */
  limit?: number;
  /** Only documents whose id sorts after this one (the last id of the page before). */
  after?: string;
}

export interface DocumentPage {
  /** By id (code point order), ids after `after`. */
  documents: DocumentSummary[];
  /** More documents follow the last one. */
  hasMore: boolean;
}

/** What `Collection.warmAdapters` read into memory; `complete` false: the LRU filled (or it was aborted) first. */
export interface WarmResult {
  adapters: number;
  failed: number;
  cachedBytes: number;
  complete: boolean;
}

export interface Collection {
  readonly name: string;
  readonly dir: string;
  readonly settings: CollectionSettings;
  answer(request: AnswerRequest): Promise<AnswerResult>;
  /** Records the document and a job for it (durably) and returns at once; the job runs in the background. */
  addDocument(doc: NewDocument): { jobId: string; documentId: string };
  job(id: string): JobStatus | undefined;
  /** Jobs not yet done or failed, oldest first. */
  pendingJobs(): JobStatus[];
  /** Jobs recorded in each state (every state present), from the durable job table: a count, not a list. */
  jobCounts(): Record<JobState, number>;
  /**
   * Adapter loads of the collection's store since it was opened: served from its in-memory LRU (`hits`) or read and
   * verified from disk (`misses`). Answers' loads, and training's reads of the store's base_weight.
   */
  adapterCacheStats(): { hits: number; misses: number };
  /**
   * Reads the documents' adapters into the store's in-memory LRU (up to 90% of it), so that answers do not pay a
   * first read from disk; what a server does at start. Stops when `signal` aborts; a broken adapter is counted, and
   * left to the answer that uses it to report.
   */
  warmAdapters(signal?: AbortSignal): Promise<WarmResult>;
  document(id: string): DocumentInfo | undefined;
  documentCount(): number;
  /**
   * A page of the collection's documents (id, title, index and adapter state; no text), in id order: those stored and
   * those whose add job has not stored them yet, as `document` sees them.
   */
  listDocuments(options?: ListDocumentsOptions): DocumentPage;
  /** Removes the document, its index entries and its adapter; a queued or running add job for it is cancelled. False if unknown. */
  deleteDocument(id: string): Promise<boolean>;
  /** Resolves when no job is queued or running. */
  whenIdle(): Promise<void>;
  /** Stops taking jobs, lets the running step finish (or checkpoint), closes the stores. */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Model name (e.g. smollm2-135m-instruct, pulled on first use), .gguf path or Hugging Face folder. */
  model: string;
  /** Where models and caches live (RG_HOME). */
  home: string;
  /** onnxruntime intra-op threads. */
  threads: number;
  /** Pull a known model that is not in `home` yet (default true). */
  pull?: boolean;
  /**
   * Run inference sessions in a worker thread (default false): the decode steps' allocations (logits, KV cache) and
   * their garbage collections then stay off the thread that answers HTTP, retrieves and composes adapters.
   */
  worker?: boolean;
  /**
   * Projection weights of the answering sessions (default f32: exact, what every accuracy table is measured with).
   * q8: 8-bit blocks, ~3x the f32 decode speed on CPUs, logits within ~3% of f32's range; q4: 4-bit blocks, smaller,
   * a little further from f32 (docs/BENCHMARKS.md, Generation). Training always runs on the f32 weights.
   */
  weightFormat?: WeightFormat;
  /**
   * Make the batched graph's session while loading (default false): for a `generate` that decodes requests together,
   * so that the first concurrent requests do not wait for it.
   */
  batched?: boolean;
  /**
   * Replaces how tokens are generated (default: the engine's `generate`), e.g. by a batcher that decodes many requests
   * together. It must call `onToken` for every new token and let an exception thrown there end only that request
   * (that is how an abort stops a generation).
   */
  generate?: GenerateFn;
  /**
   * Training in this process pauses between micro-batches while answers are being computed, for at most this long at
   * a time (default 10,000 ms; 0: training does not yield). See RequestGate.
   */
  trainingMaxPauseMs?: number;
}

/** The loaded model, shared by every collection of a process. */
export interface ModelRuntime {
  /** The model as given in RuntimeOptions (a known name or a path). */
  readonly model: string;
  /** The model's segment in adapter store keys (`modelKeyName`): the known name or the file/folder name. */
  readonly modelName: string;
  /** `modelFingerprint`: adapters stored for another model under the same name are refused on load. */
  readonly fingerprint: string;
  readonly config: ModelConfig;
  /** The model's tokenizer (chat template included): what training encodes examples with. */
  readonly tokenizer: Tokenizer;
  readonly threads: number;
  /** RuntimeOptions.home: where models and caches live (a dense index's encoder too). */
  readonly home: string;
  /** RuntimeOptions.worker: the inference sessions run in a worker thread (compositions go there in shared memory). */
  readonly worker?: boolean;
  /** RuntimeOptions.weightFormat: the answering sessions' projection weights. */
  readonly weightFormat: WeightFormat;
  /** Generation and scoring on the model (chat template, adapters per request). */
  readonly answerModel: AnswerModel;
  /** Answers in flight on the model, which training yields to (absent: training never waits). */
  readonly requests?: RequestGate;
  /** The session that trains adapters on `targets`, created on first use and then shared. */
  trainingSession(targets: readonly LoraTarget[]): Promise<TrainingSession>;
  /** Releases the sessions; collections opened on the runtime must be closed first. */
  dispose(): Promise<void>;
}

export interface OpenCollectionOptions {
  /** Create the collection with these settings (the rest defaulted) when the folder holds no collection.json. */
  create?: Partial<Omit<CollectionSettings, 'recipe' | 'answer'>> & {
    recipe?: Partial<CollectionRecipe>;
    answer?: Partial<AnswerDefaults>;
  };
  /** Run added documents' jobs in this process (default true; false: only serve answers). */
  runJobs?: boolean;
}
