import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CorpusStore, type Document, STORE_FILE, StoreOpenError } from '@rg/corpus';
import {
  abortBuild,
  BACKENDS,
  type BackendName,
  commitBuild,
  HNSW_DEFAULTS,
  IndexMissingError,
  openRetriever,
  writeIndexStamp,
} from '@rg/retriever';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { positiveInt } from '../parse.js';

interface BuildFlags {
  store: string;
  backend: BackendName;
  batch: number;
  hnswM?: number;
  hnswEfConstruction?: number;
  json?: boolean;
}

export function registerIndex(program: Command, ctx: CliContext): void {
  const index = program.command('index').description('retrieval indexes over a document store');
  index
    .command('build')
    .description('index every document of a store with a backend (embedded indexes are swapped in only when complete)')
    .requiredOption('--store <dir>', 'store folder (from rg corpus ingest)')
    .addOption(new Option('--backend <name>', 'retrieval backend').choices(BACKENDS).default('sqlite'))
    .option('--batch <n>', 'documents per write', positiveInt, 1000)
    .option('--hnsw-m <n>', `hnsw backend: links per node (default ${HNSW_DEFAULTS.M})`, positiveInt)
    .option('--hnsw-ef-construction <n>', `hnsw backend: candidates while inserting (default ${HNSW_DEFAULTS.efConstruction})`, positiveInt)
    .option('--json', 'print the summary as one JSON line')
    .action(async (flags: BuildFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      if ((flags.hnswM !== undefined || flags.hnswEfConstruction !== undefined) && flags.backend !== 'hnsw')
        throw new UsageError('--hnsw-m and --hnsw-ef-construction apply to --backend hnsw only');
      // Checked before the encoder loads; hnswlib itself fails on M = 1 with a misleading "Not enough memory".
      if (flags.hnswM !== undefined && flags.hnswM < 2)
        throw new UsageError(`--hnsw-m ${flags.hnswM}: expected an integer >= 2 (links per node; hnswlib spreads levels by 1/ln(M))`);
      const store = openStore(flags.store);
      // Read before iterating: a concurrent ingest during the build makes the stamp older, never newer, than the index.
      const generation = store.generation();
      const total = store.count();
      const progress = ctx.progress(`index ${flags.backend}`, Math.max(total, 1), 'docs', flags.json);
      const t0 = performance.now();
      try {
        const retriever = await openRetriever(flags.backend, {
          storeDir: flags.store,
          build: true,
          home: config.home,
          threads: config.threads,
          env: ctx.io.env,
          hnsw: { M: flags.hnswM, efConstruction: flags.hnswEfConstruction },
        }).catch((e: Error) => {
          abortBuild(flags.store, flags.backend);
          // RangeError: a build parameter the backend refuses (e.g. --hnsw-m 1).
          throw e instanceof IndexMissingError || e instanceof RangeError ? new UsageError(e.message) : e;
        });
        try {
          let batch: Document[] = [];
          for (const doc of store.iterate()) {
            batch.push(doc);
            if (batch.length >= flags.batch) {
              await retriever.add(batch);
              progress.tick(batch.length);
              batch = [];
            }
          }
          await retriever.add(batch);
          progress.tick(batch.length);
        } catch (e) {
          // The current index stays; the half-built one is removed rather than left as *.building files.
          progress.stop();
          await retriever.close().catch(() => {});
          abortBuild(flags.store, flags.backend);
          throw e;
        }
        progress.stop();
        await retriever.close();
        commitBuild(flags.store, flags.backend);
        writeIndexStamp(flags.store, { backend: flags.backend, generation, documents: total });
        const seconds = (performance.now() - t0) / 1000;
        const summary = { backend: flags.backend, documents: total, seconds, docsPerSecond: total / Math.max(seconds, 1e-9) };
        if (flags.json) ctx.json(summary);
        else
          ctx.print(
            `indexed ${total} documents with ${flags.backend} in ${seconds.toFixed(1)} s (${summary.docsPerSecond.toFixed(0)} docs/s)`,
          );
      } finally {
        store.close();
      }
    });
}

/**
 * Open a store; a missing one (unless `create`), a path that is a file or a database that is not
 * one are usage errors naming the path, and a read-only command never leaves a new empty store.
 */
export function openStore(dir: string, opts: { create?: boolean; flag?: string } = {}): CorpusStore {
  const flag = opts.flag ?? '--store';
  if (!opts.create && !existsSync(join(dir, STORE_FILE)))
    throw new UsageError(`${flag} ${dir}: no document store there (expected ${STORE_FILE}; create it with rg corpus ingest)`);
  try {
    return CorpusStore.open(dir, { create: opts.create ?? false });
  } catch (e) {
    if (e instanceof StoreOpenError) throw new UsageError(`${flag} ${e.message}`);
    throw e;
  }
}
