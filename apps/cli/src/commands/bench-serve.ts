import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { median, summary } from '@rg/bench-kit';
import { DEFAULT_BATCH, DEFAULT_SERVER_OPTIONS, type RunningServer, startServer } from '@rg/server';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { intList, nonNegativeInt, positiveInt, stringList } from '../parse.js';
import { allowBusyOption, benchCommand, benchRun } from './bench.js';
import { measureAdd, popqaDocument } from './bench-serve-add.js';
import { type Ask, api, chat, type DemoDocument, drive, ms, type Outcome, round2, waitForJob } from './bench-serve-http.js';

const PARTS = ['overhead', 'concurrency', 'batching', 'add'] as const;
type Part = (typeof PARTS)[number];

interface Flags {
  collection?: string;
  dataDir: string;
  requests: number;
  maxNewTokens: number;
  batch: number;
  worker?: boolean;
  trainingPause: number;
  compareBatch?: number[];
  clients: number;
  decodeTokens: number;
  rounds: number;
  maxSeconds: number;
  parts: string[];
  allowBusy?: boolean;
  json?: boolean;
}

/** The shipped demo corpus and questions (apps/cli/demo): small documents that encode in seconds each. */
const DEMO_DIR = resolve(import.meta.dirname, '../../demo');

function readJsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

/** Adds the demo documents the collection lacks (or whose adapter is missing) through the API, and waits for them. */
async function ensureDocuments(ctx: CliContext, url: string, docs: DemoDocument[]): Promise<void> {
  const jobs: string[] = [];
  for (const doc of docs) {
    const { status, body } = await api(url, `/v1/documents/${encodeURIComponent(doc.id)}`);
    if (status === 200 && body.has_adapter === true) continue;
    const added = await api(url, '/v1/documents', { method: 'POST', body: JSON.stringify(doc) });
    if (added.status !== 202) throw new Error(`adding document ${doc.id}: HTTP ${added.status} ${JSON.stringify(added.body)}`);
    jobs.push(added.body.job_id as string);
  }
  if (jobs.length === 0) return;
  ctx.info(`rg: encoding ${jobs.length} demo documents into the collection (once; --collection reuses them) ...`);
  for (const job of jobs) await waitForJob(url, job, 30 * 60_000);
}

/** Latency, throughput and status counts of a batch of outcomes over `seconds` of wall time. */
function loadFigures(clients: number, outcomes: Outcome[], seconds: number) {
  const ok = outcomes.filter((o) => o.status === 200);
  const tokens = ok.reduce((s, o) => s + (o.body?.usage.completion_tokens ?? 0), 0);
  return {
    clients,
    requests: outcomes.length,
    seconds: round2(seconds),
    requestsPerSecond: round2(ok.length / seconds),
    completionTokensPerSecond: round2(tokens / seconds),
    latencyMs: ok.length > 0 ? ms(ok.map((o) => o.ms)) : null,
    errors: outcomes.filter((o) => o.status !== 200 && o.status !== 429).length,
    status429: outcomes.filter((o) => o.status === 429).length,
    errorSamples: [...new Set(outcomes.filter((o) => o.status !== 200).map((o) => `${o.status}: ${o.error}`))].slice(0, 3),
  };
}

export function registerBenchServe(program: Command, ctx: CliContext): void {
  benchCommand(program)
    .command('serve')
    .description(
      'the HTTP server in-process on loopback: overhead over in-process answering, adapter fetch+compose, concurrency 1/4/16, batched vs unbatched decoding across adapter sets, time from adding a document to an answer with its adapter',
    )
    .option(
      '--collection <dir>',
      'collection to serve (created with the demo documents when missing, reused after); default <home>/collections/bench-serve',
    )
    .option('--data-dir <dir>', 'folder holding popqa/ (the ~200-word document of the add part)', '../shared/data')
    .option(
      '--requests <n>',
      'requests per measurement of the overhead and concurrency parts (concurrency 16: twice as many)',
      positiveInt,
      16,
    )
    .option('--max-new-tokens <n>', 'max_tokens of the overhead, concurrency and add parts', positiveInt, 16)
    .option('--batch <n>', 'the served --batch (rows decoded together)', positiveInt, DEFAULT_BATCH)
    .option('--worker', 'serve with rg serve --worker (decoding in a worker thread)')
    .option(
      '--training-pause <s>',
      'add part: the served --training-pause compared with 0 (training that does not yield to answers)',
      nonNegativeInt,
      10,
    )
    .option(
      '--compare-batch <sizes>',
      'batching part: the --batch values compared (default 1 and --batch); 1 is sequential serving',
      intList,
    )
    .option('--clients <n>', 'batching part: concurrent clients, each with its own adapters', positiveInt, 8)
    .option('--decode-tokens <n>', 'batching part: max_tokens per request', positiveInt, 32)
    .option('--rounds <n>', 'batching part: timed rounds per --batch value (median), after a warm-up round', positiveInt, 2)
    .option('--max-seconds <s>', 'time bound of each measurement: no request is sent after it', positiveInt, 300)
    .option('--parts <list>', `which parts to run (${PARTS.join(',')})`, stringList, [...PARTS])
    .addOption(allowBusyOption())
    .option('--json', 'print one JSON line')
    .action(async (flags: Flags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const parts = new Set(flags.parts as Part[]);
      for (const p of parts)
        if (!(PARTS as readonly string[]).includes(p)) throw new UsageError(`--parts: unknown part "${p}" (${PARTS.join(', ')})`);
      const compare = flags.compareBatch ?? [1, flags.batch];
      if (compare.some((b) => b < 1)) throw new UsageError('--compare-batch: sizes must be positive');
      const docs = readJsonl<DemoDocument>(join(DEMO_DIR, 'corpus.jsonl'));
      const questions = readJsonl<{ question: string }>(join(DEMO_DIR, 'questions.jsonl')).map((q) => q.question);
      const newDocument = parts.has('add') ? popqaDocument(resolve(ctx.io.cwd, flags.dataDir), 200) : undefined;
      const dir = resolve(ctx.io.cwd, flags.collection ?? join(config.home, 'collections', 'bench-serve'));
      const serve = (batch: number, concurrency: number, trainingMaxPauseMs = flags.trainingPause * 1000) =>
        startServer({
          ...DEFAULT_SERVER_OPTIONS,
          collections: [dir],
          host: '127.0.0.1',
          port: 0,
          model: config.model,
          home: config.home,
          threads: config.threads,
          batch,
          concurrency,
          worker: flags.worker ?? false,
          trainingMaxPauseMs,
          logLevel: 'silent',
        });
      const within = () => performance.now() + flags.maxSeconds * 1000;

      // Setup (not timed, before the load guard): the collection with its documents encoded.
      let server: RunningServer | undefined = await serve(flags.batch, flags.batch);
      const name = server.collections.keys().next().value as string;
      const model = `rg:${name}`;
      const collection = server.collections.get(name)!;
      try {
        await ensureDocuments(ctx, server.url, docs);
      } catch (e) {
        await server.shutdown();
        throw e;
      }

      let run: ReturnType<typeof benchRun>;
      try {
        run = benchRun(ctx, { threads: config.threads, allowBusy: flags.allowBusy ?? false });
      } catch (e) {
        // A busy machine refused after the setup: the server (and its model, its worker thread) must not outlive it.
        await server.shutdown();
        throw e;
      }
      const result: Record<string, unknown> = {
        bench: 'serve',
        model: config.model,
        threads: config.threads,
        batch: flags.batch,
        worker: flags.worker ?? false,
        collection: { dir, documents: collection.documentCount() },
        maxNewTokens: flags.maxNewTokens,
      };
      // fetch_ms + compose_ms of each answer, alone (concurrency 1) and among others (concurrency 4 and 16).
      const adapterWorkMs: Record<'alone' | 'concurrent' | 'fetchAlone' | 'composeAlone', number[]> = {
        alone: [],
        concurrent: [],
        fetchAlone: [],
        composeAlone: [],
      };
      const adaptersApplied: number[] = [];
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
          maxNewTokens: flags.maxNewTokens,
          adapters: [0, 1, 2].map((j) => docs[(i + j) % docs.length].id),
        });
        // Warm-up: the sessions' first runs, the adapters' first reads.
        for (let i = 0; i < 2; i++) await chat(server.url, model, ask(i));

        if (parts.has('overhead')) {
          ctx.info(`rg: overhead: ${flags.requests} requests over HTTP and ${flags.requests} in-process, interleaved, concurrency 1 ...`);
          const http: Outcome[] = [];
          const inProcess: number[] = [];
          let sameText = true;
          const deadline = within();
          for (let i = 0; i < flags.requests && performance.now() < deadline; i++) {
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
            let localText: string;
            let remote: Outcome;
            if (i % 2 === 0) {
              localText = await local();
              remote = await chat(server.url, model, a);
            } else {
              remote = await chat(server.url, model, a);
              localText = await local();
            }
            http.push(remote);
            sameText &&= remote.body?.choices[0].message.content === localText;
          }
          noteAdapterWork(http, 1);
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
            const count = Math.max(flags.requests, 2 * clients);
            ctx.info(`rg: concurrency ${clients}: ${count} requests ...`);
            const start = performance.now();
            const outcomes = await drive(clients, count, within(), (i) => chat(server!.url, model, ask(i)));
            levels.push(loadFigures(clients, outcomes, (performance.now() - start) / 1000));
            noteAdapterWork(outcomes, clients);
          }
          result.concurrency = {
            serverBatch: flags.batch,
            serverConcurrency: flags.batch,
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
          };
        }

        await server.shutdown();
        server = undefined;

        if (parts.has('add') && newDocument) {
          result.add = await measureAdd({
            ctx,
            serve: (pauseMs) => serve(flags.batch, flags.batch, pauseMs),
            model,
            document: newDocument,
            probe: { question: questions[0], maxNewTokens: flags.maxNewTokens, adapters: docs.slice(0, 3).map((d) => d.id) },
            maxNewTokens: flags.maxNewTokens,
            pauses: [...new Set([0, flags.trainingPause])],
            maxSeconds: flags.maxSeconds,
          });
        }

        if (parts.has('batching')) {
          const clientAsk = (c: number, maxNewTokens: number): Ask => ({
            question: questions[(3 * c) % questions.length],
            maxNewTokens,
            // Client c's own three documents: every client a different adapter set.
            adapters: [0, 1, 2].map((j) => docs[(c + j) % docs.length].id),
          });
          const runs = [];
          let reference: string[] | undefined;
          let outputsIdentical = true;
          for (const batch of compare) {
            // --batch 1 with one generation at a time is sequential serving, the baseline.
            server = await serve(batch, batch);
            try {
              await drive(flags.clients, flags.clients, within(), (c) => chat(server!.url, model, clientAsk(c, 4)));
              const rounds = [];
              for (let r = 0; r < flags.rounds; r++) {
                ctx.info(`rg: batching: --batch ${batch}, ${flags.clients} clients, round ${r + 1}/${flags.rounds} ...`);
                const start = performance.now();
                const outcomes = await drive(flags.clients, flags.clients, within(), (c) =>
                  chat(server!.url, model, clientAsk(c, flags.decodeTokens)),
                );
                const seconds = (performance.now() - start) / 1000;
                const texts = outcomes.map((o) => o.body?.choices[0].message.content ?? `HTTP ${o.status}`);
                reference ??= texts;
                outputsIdentical &&= texts.length === reference.length && texts.every((t, i) => t === reference![i]);
                const tokens = outcomes.reduce((s, o) => s + (o.body?.usage.completion_tokens ?? 0), 0);
                rounds.push({
                  seconds,
                  tokens,
                  errors: outcomes.filter((o) => o.status !== 200).length,
                  latency: outcomes.map((o) => o.ms),
                });
              }
              runs.push({
                batch,
                concurrency: batch,
                completionTokens: rounds[0].tokens,
                seconds: round2(median(rounds.map((r) => r.seconds))),
                completionTokensPerSecond: round2(median(rounds.map((r) => r.tokens / r.seconds))),
                latencyMs: ms(rounds.flatMap((r) => r.latency)),
                errors: rounds.reduce((s, r) => s + r.errors, 0),
              });
            } finally {
              await server.shutdown();
              server = undefined;
            }
          }
          const base = runs.find((r) => r.batch === 1);
          const top = runs.find((r) => r.batch === Math.max(...compare));
          result.batching = {
            clients: flags.clients,
            decodeTokens: flags.decodeTokens,
            rounds: flags.rounds,
            runs,
            // Every client's own tokens/s summed, batched over sequential (prefills included on both sides).
            speedup: base && top && top !== base ? round2(top.completionTokensPerSecond / base.completionTokensPerSecond) : null,
            outputsIdentical,
          };
        }
      } finally {
        await server?.shutdown();
      }
      const out = { ...result, ...run.finish(), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
      if (flags.json) ctx.json(out);
      else ctx.print(JSON.stringify(out, null, 2));
    });
}
