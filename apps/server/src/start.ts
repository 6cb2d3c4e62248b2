import type { AddressInfo } from 'node:net';
import { basename, join, resolve } from 'node:path';
import type { WeightFormat } from '@rg/engine';
import { type Collection, loadRuntime, type ModelRuntime, openCollection, type WarmResult } from '@rg/pipeline';
import { registerElasticsearch } from '@rg/retriever-elasticsearch';
import { registerQdrant } from '@rg/retriever-qdrant';
import { type BuildAppOptions, buildApp, type RgApp } from './app.js';
import { batchedGenerate } from './batching.js';
import { modelId } from './collections.js';
import type { ServedCollections, ServerOptions } from './deps.js';

export interface StartOptions extends ServerOptions {
  /** Collection folders; the first is the default. None: `<home>/collections/default`. A folder without collection.json gets one with the default settings. */
  collections: string[];
  host: string;
  /** 0: any free port. */
  port: number;
  model: string;
  home: string;
  threads: number;
  /**
   * Requests decoded together, each with its own adapters (a DecodeBatcher over the model); 1: each generation decodes
   * alone. Set `concurrency` to at least this, or the batch never fills.
   */
  batch?: number;
  /**
   * Decode in a worker thread (default false): the steps' logits and KV-cache allocations, and the garbage collections
   * they set off, stay off the thread that answers HTTP, retrieves and composes adapters (see docs/BENCHMARKS.md,
   * Serving). Costs a second copy of the model's weights in memory.
   */
  worker?: boolean;
  /** Projection weights of the answering sessions: f32 (default, exact), q8 or q4 (faster decoding; see loadRuntime). */
  weightFormat?: WeightFormat;
  /**
   * An added document's training waits between its micro-batches while answers are in flight, at most this long at a
   * time (default 10,000 ms; 0: training never waits): a request no longer waits behind a whole document's training.
   */
  trainingMaxPauseMs?: number;
  /**
   * Read each collection's adapters into memory in the background once listening (default true; up to 90% of the
   * store's LRU), so that the first request to use an adapter does not read it from disk. `RunningServer.warmed`
   * resolves when done.
   */
  warmAdapters?: boolean;
  /** The one line said on listen (default: stderr). */
  say?: (line: string) => void;
  logStream?: BuildAppOptions['logStream'];
}

export interface RunningServer {
  url: string;
  rg: RgApp;
  collections: Map<string, Collection>;
  /** Each collection's warming (`warmAdapters`), by name; empty when off. Resolves when all are done, or stopped by shutdown. */
  warmed: Promise<Map<string, WarmResult>>;
  /** Stops accepting, drains requests in flight, closes the collections (their jobs checkpoint) and the model. Idempotent. */
  shutdown(): Promise<void>;
}

export const DEFAULT_PORT = 8080;

export function defaultCollectionDir(home: string): string {
  return join(home, 'collections', 'default');
}

/** Loads the model, opens the collections (creating missing ones with the default settings), and listens. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  // A collection's backend may be a server one, a plug-in of @rg/retriever opened by name.
  registerElasticsearch();
  registerQdrant();
  const dirs = options.collections.length > 0 ? options.collections : [defaultCollectionDir(options.home)];
  const batch = options.batch ?? 1;
  const runtime = await loadRuntime({
    model: options.model,
    home: options.home,
    threads: options.threads,
    worker: options.worker,
    weightFormat: options.weightFormat,
    trainingMaxPauseMs: options.trainingMaxPauseMs,
    generate: batch > 1 ? batchedGenerate(batch) : undefined,
    batched: batch > 1,
  });
  const collections = new Map<string, Collection>();
  try {
    for (const dir of dirs) {
      const collection = await openCollection(dir, runtime, { create: { name: basename(resolve(dir)) } });
      const clash = collections.get(collection.name);
      if (clash) {
        await collection.close();
        throw new Error(
          `two collections are named "${collection.name}" (${clash.dir} and ${collection.dir}); rename one in its collection.json`,
        );
      }
      collections.set(collection.name, collection);
    }
  } catch (e) {
    await closeAll(collections, runtime);
    throw e;
  }
  try {
    return await listen(
      { collections, defaultCollection: collections.keys().next().value as string, modelName: runtime.modelName },
      options,
      () => closeAll(collections, runtime),
    );
  } catch (e) {
    await closeAll(collections, runtime);
    throw e;
  }
}

export type ListenOptions = Omit<StartOptions, 'collections' | 'model' | 'home' | 'threads' | 'batch' | 'weightFormat'>;

/** Serves open collections; `release` closes what they hold once shutdown has drained the requests. */
export async function listen(served: ServedCollections, options: ListenOptions, release: () => Promise<void>): Promise<RunningServer> {
  const rg = buildApp(served, options);
  await rg.app.listen({ host: options.host, port: options.port }).catch((e: NodeJS.ErrnoException) => {
    const at = `${options.host}:${options.port}`;
    if (e.code === 'EADDRINUSE')
      throw new Error(`--port ${options.port}: ${at} is already in use (another server?): stop it, or give another --port`);
    if (e.code === 'EACCES')
      throw new Error(`--port ${options.port}: not allowed to listen on ${at} (ports below 1024 need privileges): give another --port`);
    throw e;
  });
  const { port } = rg.app.server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}`;
  if (options.logLevel !== 'silent') {
    const say = options.say ?? ((line) => process.stderr.write(`${line}\n`));
    const counts = [...served.collections].map(([name, c]) => ({ name, dir: c.dir, count: c.documentCount() }));
    const described = counts.map(
      ({ name, count }) =>
        `${modelId(name)} (${name === served.defaultCollection ? 'default, ' : ''}${count} document${count === 1 ? '' : 's'})`,
    );
    say(`rg-server listening on ${url}: ${described.join(', ')} on ${served.modelName}${options.apiKey ? ', API key required' : ''}`);
    // A mistyped --collection makes a new, empty one: say where, so that answers without knowledge are not a mystery.
    for (const { name, dir, count } of counts)
      if (count === 0) say(`rg-server: ${modelId(name)} has no documents yet (${dir}): POST /v1/documents adds them`);
  }
  const stopWarming = new AbortController();
  const warmed = options.warmAdapters === false ? Promise.resolve(new Map()) : warmAll(served.collections, stopWarming.signal, rg);
  let shutdown: Promise<void> | undefined;
  return {
    url,
    rg,
    collections: served.collections,
    warmed,
    shutdown: () => {
      shutdown ??= (async () => {
        stopWarming.abort();
        await rg.drain();
        await warmed;
        await release();
      })();
      return shutdown;
    },
  };
}

/** Warms the collections one after another (reads compete for the same disk and cores as answers); never rejects. */
async function warmAll(collections: Map<string, Collection>, signal: AbortSignal, rg: RgApp): Promise<Map<string, WarmResult>> {
  const done = new Map<string, WarmResult>();
  for (const [name, collection] of collections) {
    if (signal.aborted) break;
    try {
      const result = await collection.warmAdapters(signal);
      done.set(name, result);
      rg.app.log.info({ collection: name, ...result }, 'adapters warmed');
    } catch (e) {
      rg.app.log.warn({ collection: name, err: e }, 'warming adapters failed');
    }
  }
  return done;
}

async function closeAll(collections: Map<string, Collection>, runtime: ModelRuntime): Promise<void> {
  await Promise.allSettled([...collections.values()].map((c) => c.close()));
  await runtime.dispose();
}

/** Where signals come from (the process; a test hands in an emitter). */
export interface SignalSource {
  on(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
  off(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
}

/**
 * SIGTERM (and Ctrl-C) shut the server down gracefully; resolves with the exit code once it has: 0 after a clean
 * drain, 1 if closing failed. Both listeners go on the first signal, so a second one has its default effect (the
 * process ends at once) for an operator who will not wait for the drain.
 */
export function untilSignal(
  server: RunningServer,
  signals: SignalSource = process,
  say: (line: string) => void = () => {},
): Promise<number> {
  return new Promise((done) => {
    const stop = (signal: string) => {
      // A second SIGTERM while draining (a supervisor signalling every process of the group, a parent passing one on)
      // changes nothing; a second SIGINT (Ctrl-C again) falls to Node's default and ends the process at once.
      signals.off('SIGTERM', onTerm);
      signals.off('SIGINT', onInt);
      signals.on('SIGTERM', ignore);
      say(`rg-server: ${signal}: draining requests in flight, then closing the collections`);
      const finish = (code: number) => {
        signals.off('SIGTERM', ignore);
        done(code);
      };
      server.shutdown().then(
        () => finish(0),
        (e: Error) => {
          say(`rg-server: shutdown failed: ${e.message}`);
          finish(1);
        },
      );
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    const ignore = () => {};
    signals.on('SIGTERM', onTerm);
    signals.on('SIGINT', onInt);
  });
}
