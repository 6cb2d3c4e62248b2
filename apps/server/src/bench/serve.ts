import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { median, type Summary, summary } from '@rg/bench-kit';
import type { WeightFormat } from '@rg/engine';
import { DEFAULT_BATCH } from '../batching.js';
import { DEFAULT_SERVER_OPTIONS } from '../deps.js';
import { currentGc, type GcMode } from '../gc.js';
import { type RunningServer, startServer } from '../start.js';
import { type AddResult, measureAdd } from './add.js';
import { type BatchingResult, measureBatching } from './batching.js';
import { type CacheSplit, type LoadLevel, loadFigures, splitByCache } from './figures.js';
import { type Ask, api, type BenchDocument, chat, drive, type Latency, ms, type Outcome, round2, waitForJob } from './http.js';

export const SERVE_BENCH_PARTS = ['overhead', 'concurrency', 'batching', 'add'] as const;
export type ServeBenchPart = (typeof SERVE_BENCH_PARTS)[number];

export const SERVE_BENCH_DEFAULTS = {
  requests: 16,
  maxNewTokens: 16,
  batch: DEFAULT_BATCH,
  trainingPause: 10,
  clients: 8,
  decodeTokens: 32,
  rounds: 2,
  maxSeconds: 300,
  parts: [...SERVE_BENCH_PARTS] as ServeBenchPart[],
};

export interface ServeBenchOptions {
  model: string;
  home: string;
  threads: number;
  /** The collection served: created with `documents` when missing, reused after. Default `<home>/collections/bench-serve`. */
  collection?: string;
  /** Added to the collection through the API when missing (encoded once); every request applies three of their adapters. */
  documents: BenchDocument[];
  questions: string[];
  /** The add part's new document (~200 words); needed when `parts` has 'add'. */
  newDocument?: BenchDocument;
  /** Requests per measurement of the overhead and concurrency parts (concurrency 16: twice as many). */
  requests: number;
  /** max_tokens of the overhead, concurrency and add parts. */
  maxNewTokens: number;
  /** The served batch (rows decoded together); its concurrency is the same. */
  batch: number;
  /** Decode in a worker thread. */
  worker?: boolean;
  /** The answering model's projection weights (default f32). */
  weights?: WeightFormat;
  /**
   * Serve as rg serve does by default, the adapters read into memory before anything is timed (default true); false
   * (--no-warm): each adapter's first use in the overhead part reads it from disk.
   */
  warm?: boolean;
  /** Add part: the served training pause (seconds) compared with 0 (training that does not yield to answers). */
  trainingPause: number;
  /** Batching part: the batch sizes compared (default 1 and `batch`); 1 is sequential serving. */
  compareBatch?: number[];
  /** Batching part: concurrent clients, each with its own adapters. */
  clients: number;
  /** Batching part: max_tokens per request. */
  decodeTokens: number;
  /** Batching part: timed rounds per batch size (median), after a warm-up round. */
  rounds: number;
  /** Time bound of each measurement: no request is sent after it. */
  maxSeconds: number;
  parts: ServeBenchPart[];
  /**
   * Called once the collection is served with its documents encoded, before anything is timed: the load guard
   * (startRun) goes here, so that the setup is not what it sees. When it throws, the server is shut down first.
   */
  onReady?: () => void;
}

/** The figures `rg bench serve` prints, in its order (the run record goes before peakRssMb); parts not run are absent. */
export interface ServeBenchResult {
  model: string;
  threads: number;
  batch: number;
  worker: boolean;
  weights: WeightFormat;
  /** How this process collects garbage (the server's gc.ts): started with --single-threaded-gc, or Node's default. */
  gc: GcMode;
  /** `warmedAdapters`: read into memory before timing (null: --no-warm). */
  collection: { dir: string; documents: number; warmedAdapters: number | null };
  maxNewTokens: number;
  overhead?: {
    requests: number;
    errors: number;
    inProcessMs: Latency;
    httpMs: Latency;
    overheadPercent: number;
    sameText: boolean;
  };
  concurrency?: { serverBatch: number; serverConcurrency: number; maxQueue: number; levels: LoadLevel[] };
  adapterWork?: {
    adaptersPerRequest: { min: number; max: number };
    fetchPlusComposeMs: { concurrency1: Summary | null; concurrency4and16: Summary | null };
    concurrency1: { fetchMs: Summary; composeMs: Summary } | null;
    /**
     * The overhead part's HTTP requests split by whether an adapter had to be read from disk (a store cache miss
     * during the request) or all were in memory: a cold read is what sets the tail.
     */
    byCache?: { inMemory: CacheSplit; readFromDisk: CacheSplit };
  };
  add?: AddResult;
  batching?: BatchingResult;
  peakRssMb: number;
}

function readJsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

/** The documents and questions of a corpus folder laid out as `rg demo`'s (corpus.jsonl, questions.jsonl). */
export function readDemo(dir: string): { documents: BenchDocument[]; questions: string[] } {
  return {
    documents: readJsonl<BenchDocument>(join(dir, 'corpus.jsonl')),
    questions: readJsonl<{ question: string }>(join(dir, 'questions.jsonl')).map((q) => q.question),
  };
}

/** Adds the documents the collection lacks (or whose adapter is missing) through the API, and waits for them. */
async function ensureDocuments(url: string, docs: BenchDocument[], say: (line: string) => void): Promise<void> {
  const jobs: string[] = [];
  for (const doc of docs) {
    const { status, body } = await api(url, `/v1/documents/${encodeURIComponent(doc.id)}`);
    if (status === 200 && body.has_adapter === true) continue;
    const added = await api(url, '/v1/documents', { method: 'POST', body: JSON.stringify(doc) });
    if (added.status !== 202) throw new Error(`adding document ${doc.id}: HTTP ${added.status} ${JSON.stringify(added.body)}`);
    jobs.push(added.body.job_id as string);
  }
  if (jobs.length === 0) return;
  say(`rg: encoding ${jobs.length} demo documents into the collection (once; --collection reuses them) ...`);
  for (const job of jobs) await waitForJob(url, job, 30 * 60_000);
}

/**
 * The HTTP server in-process on loopback: its overhead over answering in-process, the adapters' fetch + compose,
 * concurrency 1/4/16, batched against unbatched decoding across adapter sets, and the time from adding a document to
 * an answer with its adapter.
 */
export async function serveBench(options: ServeBenchOptions, say: (line: string) => void = () => {}): Promise<ServeBenchResult> {
  const { documents: docs, questions } = options;
  const parts = new Set(options.parts);
  const compare = options.compareBatch ?? [1, options.batch];
  if (compare.some((b) => b < 1)) throw new RangeError('compareBatch: sizes must be positive');
  if (parts.has('add') && !options.newDocument) throw new RangeError('the add part needs newDocument');
  const worker = options.worker ?? false;
  const weights = options.weights ?? 'f32';
  const warm = options.warm ?? true;
  const dir = options.collection ?? join(options.home, 'collections', 'bench-serve');
  const serve = (batch: number, concurrency: number, trainingMaxPauseMs = options.trainingPause * 1000) =>
    startServer({
      ...DEFAULT_SERVER_OPTIONS,
      collections: [dir],
      host: '127.0.0.1',
      port: 0,
      model: options.model,
      home: options.home,
      threads: options.threads,
      batch,
      concurrency,
      worker,
      weightFormat: weights,
      trainingMaxPauseMs,
      warmAdapters: warm,
      logLevel: 'silent',
    });
  const within = () => performance.now() + options.maxSeconds * 1000;

  // Setup (not timed, before onReady's load guard): the collection with its documents encoded.
  let server: RunningServer | undefined = await serve(options.batch, options.batch);
  const name = server.collections.keys().next().value as string;
  const model = `rg:${name}`;
  const collection = server.collections.get(name)!;
  let warmedAdapters: number | null = null;
  try {
    await ensureDocuments(server.url, docs, say);
    if (warm) {
      // As a restarted server would have them: the start's warming, then the documents this setup just encoded.
      await server.warmed;
      warmedAdapters = (await collection.warmAdapters()).adapters;
    }
    // A busy machine refused after the setup: the server (and its model, its worker thread) must not outlive it.
    options.onReady?.();
  } catch (e) {
    await server.shutdown();
    throw e;
  }

  const result: Omit<ServeBenchResult, 'peakRssMb'> = {
    model: options.model,
    threads: options.threads,
    batch: options.batch,
    worker,
    weights,
    gc: currentGc(),
    collection: { dir, documents: collection.documentCount(), warmedAdapters },
    maxNewTokens: options.maxNewTokens,
  };
  // fetch_ms + compose_ms of each answer, alone (concurrency 1) and among others (concurrency 4 and 16).
  const adapterWorkMs: Record<'alone' | 'concurrent' | 'fetchAlone' | 'composeAlone', number[]> = {
    alone: [],
    concurrent: [],
    fetchAlone: [],
    composeAlone: [],
  };
  const adaptersApplied: number[] = [];
  let overheadCache: { inMemory: CacheSplit; readFromDisk: CacheSplit } | undefined;
  const noteAdapterWork = (outcomes: Outcome[], clients: number) => {
    for (const o of outcomes) {
      if (!o.body) continue;
      const { fetch_ms, compose_ms } = o.body.rg.timings;
      adapterWorkMs[clients === 1 ? 'alone' : 'concurrent'].push(fetch_ms + compose_ms);
      if (clients === 1) {
        adapterWorkMs.fetchAlone.push(fetch_ms);
        adapterWorkMs.composeAlone.push(compose_ms);
      }
      adaptersApplied.push(o.body.rg.adapters.length);
    }
  };
  try {
    // Three explicit adapters per request (BM25 over ten short documents often retrieves fewer than k = 3), a
    // different set for each of ten consecutive requests.
    const ask = (i: number): Ask => ({
      question: questions[i % questions.length],
      maxNewTokens: options.maxNewTokens,
      adapters: [0, 1, 2].map((j) => docs[(i + j) % docs.length].id),
    });
    // Warm-up: the sessions' first runs, the adapters' first reads.
    for (let i = 0; i < 2; i++) await chat(server.url, model, ask(i));

    if (parts.has('overhead')) {
      say(`rg: overhead: ${options.requests} requests over HTTP and ${options.requests} in-process, interleaved, concurrency 1 ...`);
      const http: Outcome[] = [];
      const inProcess: number[] = [];
      const missed: boolean[] = [];
      let sameText = true;
      const deadline = within();
      for (let i = 0; i < options.requests && performance.now() < deadline; i++) {
        const a = ask(i);
        const local = async () => {
          const start = performance.now();
          const r = await collection.answer({
            question: a.question,
            messages: [{ role: 'user', content: a.question }],
            method: 'cat_all_one',
            adapters: a.adapters?.map((id) => ({ id })),
            maxNewTokens: a.maxNewTokens,
            temperature: 0,
          });
          inProcess.push(performance.now() - start);
          return r.text;
        };
        // Alternating which goes first, so that a drift in load hits both alike.
        const remoteCounted = async () => {
          const before = collection.adapterCacheStats().misses;
          const r = await chat(server!.url, model, a);
          missed.push(collection.adapterCacheStats().misses > before);
          return r;
        };
        let localText: string;
        let remote: Outcome;
        if (i % 2 === 0) {
          localText = await local();
          remote = await remoteCounted();
        } else {
          remote = await remoteCounted();
          localText = await local();
        }
        http.push(remote);
        sameText &&= remote.body?.choices[0].message.content === localText;
      }
      noteAdapterWork(http, 1);
      overheadCache = splitByCache(http, missed);
      const ok = http.filter((o) => o.status === 200).map((o) => o.ms);
      const httpP50 = median(ok);
      const localP50 = median(inProcess);
      result.overhead = {
        requests: http.length,
        errors: http.length - ok.length,
        inProcessMs: ms(inProcess),
        httpMs: ms(ok),
        // Of the in-process latency (medians): the cost of HTTP, JSON, validation and the queue.
        overheadPercent: round2(((httpP50 - localP50) / localP50) * 100),
        sameText,
      };
    }

    if (parts.has('concurrency')) {
      const levels = [];
      for (const clients of [1, 4, 16]) {
        const count = Math.max(options.requests, 2 * clients);
        say(`rg: concurrency ${clients}: ${count} requests ...`);
        const start = performance.now();
        const outcomes = await drive(clients, count, within(), (i) => chat(server!.url, model, ask(i)));
        levels.push(loadFigures(clients, outcomes, (performance.now() - start) / 1000));
        noteAdapterWork(outcomes, clients);
      }
      result.concurrency = {
        serverBatch: options.batch,
        serverConcurrency: options.batch,
        maxQueue: DEFAULT_SERVER_OPTIONS.maxQueue,
        levels,
      };
    }

    if (adaptersApplied.length > 0) {
      // rg.timings: fetch (read from the store) + compose (composed and prepared as the model's inputs). Among
      // concurrent requests it includes waiting for the event loop while a forward runs.
      result.adapterWork = {
        adaptersPerRequest: { min: Math.min(...adaptersApplied), max: Math.max(...adaptersApplied) },
        fetchPlusComposeMs: {
          concurrency1: adapterWorkMs.alone.length > 0 ? summary(adapterWorkMs.alone) : null,
          concurrency4and16: adapterWorkMs.concurrent.length > 0 ? summary(adapterWorkMs.concurrent) : null,
        },
        concurrency1:
          adapterWorkMs.alone.length > 0
            ? { fetchMs: summary(adapterWorkMs.fetchAlone), composeMs: summary(adapterWorkMs.composeAlone) }
            : null,
        ...(overheadCache ? { byCache: overheadCache } : {}),
      };
    }

    await server.shutdown();
    server = undefined;

    if (parts.has('add') && options.newDocument) {
      result.add = await measureAdd({
        serve: (pauseMs) => serve(options.batch, options.batch, pauseMs),
        model,
        document: options.newDocument,
        probe: { question: questions[0], maxNewTokens: options.maxNewTokens, adapters: docs.slice(0, 3).map((d) => d.id) },
        maxNewTokens: options.maxNewTokens,
        pauses: [...new Set([0, options.trainingPause])],
        maxSeconds: options.maxSeconds,
        say,
      });
    }

    if (parts.has('batching')) {
      result.batching = await measureBatching({
        serve: async (batch) => {
          server = await serve(batch, batch);
          return server;
        },
        stop: async () => {
          await server?.shutdown();
          server = undefined;
        },
        model,
        documents: docs,
        questions,
        compare,
        clients: options.clients,
        decodeTokens: options.decodeTokens,
        rounds: options.rounds,
        within,
        say,
      });
    }
  } finally {
    await server?.shutdown();
  }
  return { ...result, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
}
