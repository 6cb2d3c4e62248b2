import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CorpusStore, type Document, STORE_FILE } from '@rg/corpus';
import { BACKENDS, type BackendName, commitBuild, HNSW_DEFAULTS, IndexMissingError, openRetriever } from '@rg/retriever';
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
      const store = openStore(flags.store);
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
          throw e instanceof IndexMissingError ? new UsageError(e.message) : e;
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
        } finally {
          await retriever.close();
          progress.stop();
        }
        commitBuild(flags.store, flags.backend);
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

/** Open an existing store; a missing one is a usage error rather than a new empty store. */
export function openStore(dir: string): CorpusStore {
  if (!existsSync(join(dir, STORE_FILE)))
    throw new UsageError(`--store ${dir}: no document store there (expected ${STORE_FILE}; create it with rg corpus ingest)`);
  return CorpusStore.open(dir);
}
