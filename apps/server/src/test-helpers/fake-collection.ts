import type {
  AnswerRequest,
  AnswerResult,
  Collection,
  CollectionSettings,
  DocumentInfo,
  DocumentPage,
  DocumentSummary,
  JobState,
  JobStatus,
  ListDocumentsOptions,
  NewDocument,
  WarmResult,
} from '@rg/pipeline';

/**
 * A test double of a pipeline Collection for the HTTP layer's tests only: it "generates" a fixed list of words, one
 * every `tokenDelayMs`, honouring the abort signal between words as the real one does, and keeps documents and jobs
 * in memory. It records every AnswerRequest so tests can check how HTTP fields were mapped. Nothing here is a model.
 */
export class FakeCollection implements Collection {
  readonly dir: string;
  readonly settings: CollectionSettings;
  readonly requests: AnswerRequest[] = [];
  /** Signals of answers in progress or done, to check that a client leaving aborts its generation. */
  readonly signals: AbortSignal[] = [];
  closed = false;
  /** What adapterCacheStats reports; tests set it. */
  cacheStats = { hits: 0, misses: 0 };
  /** addDocument and answer throw these when set (the collection's own refusals, past the HTTP schemas). */
  refuseAdd: Error | undefined;
  refuseAnswer: Error | undefined;
  private readonly docs = new Map<string, DocumentInfo>();
  private readonly jobs = new Map<string, JobStatus>();
  private nextJob = 1;

  constructor(
    readonly name: string,
    readonly words: string[] = ['Paris', ' is', ' the', ' capital', '.'],
    public tokenDelayMs = 0,
  ) {
    this.dir = `/fake/${name}`;
    this.settings = {
      name,
      backend: 'bm25',
      corpusDir: 'corpus',
      adapterDir: 'adapters',
      adapterDataset: name,
      recipe: { rank: 4, alpha: 8, lr: 1e-3, epochs: 1, examples: 'passage', loss: 'all', qa: 0, maxTokens: 256, seed: 0 },
      answer: { method: 'cat_all_one', k: 2, compose: 'cat', maxNewTokens: 64 },
    };
  }

  async answer(request: AnswerRequest): Promise<AnswerResult> {
    this.requests.push(request);
    if (this.refuseAnswer) throw this.refuseAnswer;
    if (request.signal) this.signals.push(request.signal);
    const limit = request.maxNewTokens ?? this.settings.answer.maxNewTokens;
    let text = '';
    let finishReason: AnswerResult['finishReason'] = 'stop';
    let produced = 0;
    for (const word of this.words) {
      if (request.signal?.aborted) {
        finishReason = 'abort';
        break;
      }
      if (produced === limit) {
        finishReason = 'length';
        break;
      }
      if (this.tokenDelayMs > 0) await new Promise((r) => setTimeout(r, this.tokenDelayMs));
      if (request.signal?.aborted) {
        finishReason = 'abort';
        break;
      }
      text += word;
      produced++;
      request.onDelta?.(word);
    }
    const documents = [...this.docs.keys()].slice(0, request.k ?? this.settings.answer.k).map((id, i) => ({ id, score: 10 - i }));
    const adapters = request.adapters
      ? request.adapters.map((a) => ({ id: a.id, weight: a.weight ?? 1 }))
      : documents.filter((d) => this.docs.get(d.id)?.hasAdapter).map((d) => ({ id: d.id, weight: 1 }));
    return {
      text,
      finishReason,
      promptTokens: request.question.split(/\s+/).length,
      completionTokens: produced,
      method: request.method ?? this.settings.answer.method,
      documents,
      adapters,
      missingAdapters: documents.filter((d) => !this.docs.get(d.id)?.hasAdapter).map((d) => d.id),
      timings: { retrieve_ms: 1, fetch_ms: 2, compose_ms: 3, prefill_ms: 4, decode_ms: 5 },
    };
  }

  addDocument(doc: NewDocument): { jobId: string; documentId: string } {
    if (this.refuseAdd) throw this.refuseAdd;
    const documentId = doc.id ?? `doc-${this.docs.size + 1}`;
    const jobId = `job-${this.nextJob++}`;
    const now = new Date().toISOString();
    this.docs.set(documentId, { id: documentId, title: doc.title, text: doc.text, metadata: doc.metadata ?? {}, hasAdapter: false });
    this.jobs.set(jobId, { id: jobId, kind: 'add', documentId, state: 'queued', step: null, createdAt: now, updatedAt: now });
    return { jobId, documentId };
  }

  /** Test control: finish a job as the real background worker would. */
  completeJob(jobId: string): void {
    const job = this.jobs.get(jobId)!;
    this.jobs.set(jobId, { ...job, state: 'done', step: 'encode', updatedAt: new Date().toISOString() });
    const doc = this.docs.get(job.documentId)!;
    this.docs.set(doc.id, { ...doc, hasAdapter: true });
  }

  job(id: string): JobStatus | undefined {
    return this.jobs.get(id);
  }

  pendingJobs(): JobStatus[] {
    return [...this.jobs.values()].filter((j) => j.state === 'queued' || j.state === 'running');
  }

  jobCounts(): Record<JobState, number> {
    const counts: Record<JobState, number> = { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
    for (const job of this.jobs.values()) counts[job.state]++;
    return counts;
  }

  adapterCacheStats(): { hits: number; misses: number } {
    return this.cacheStats;
  }

  /** Warming reads nothing here: the fake has no store. */
  async warmAdapters(): Promise<WarmResult> {
    return { adapters: 0, failed: 0, cachedBytes: 0, complete: true };
  }

  document(id: string): DocumentInfo | undefined {
    return this.docs.get(id);
  }

  documentCount(): number {
    return this.docs.size;
  }

  /** In id order; a document whose newest job is not done is pending in both index and adapter. */
  listDocuments(options: ListDocumentsOptions = {}): DocumentPage {
    const limit = options.limit ?? 100;
    const ids = [...this.docs.keys()].sort().filter((id) => options.after === undefined || id > options.after);
    const documents = ids.slice(0, limit).map((id): DocumentSummary => {
      const doc = this.docs.get(id)!;
      const job = [...this.jobs.values()].filter((j) => j.documentId === id).at(-1);
      const pending = job?.state === 'queued' || job?.state === 'running';
      return {
        id,
        ...(doc.title !== undefined ? { title: doc.title } : {}),
        index: pending ? 'pending' : 'indexed',
        adapter: doc.hasAdapter ? 'ready' : pending ? 'pending' : 'none',
        ...(job ? { jobId: job.id } : {}),
      };
    });
    return { documents, hasMore: ids.length > limit };
  }

  async deleteDocument(id: string): Promise<boolean> {
    return this.docs.delete(id);
  }

  async whenIdle(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }
}
