import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AugmentDataError, type RetrievalFields } from '@rg/augment';
import { CorpusStore, STORE_FILE, StoreOpenError } from '@rg/corpus';
import { buildIndex, checkIndexSettings, ForeignFieldsError, fieldsFromAugmented } from '@rg/pipeline';
import {
  BACKENDS,
  type BackendName,
  DEFAULT_FIELD_WEIGHTS,
  FIELD_BACKENDS,
  FIELD_NAMES,
  type FieldWeights,
  HNSW_DEFAULTS,
  IndexMissingError,
  parseFieldWeights,
} from '@rg/retriever';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { positiveInt } from '../parse.js';

interface BuildFlags {
  store: string;
  backend: BackendName;
  batch: number;
  hnswM?: number;
  hnswEfConstruction?: number;
  augmented?: string;
  fieldWeights?: FieldWeights;
  json?: boolean;
}

/** `--field-weights text=1,title=1,tags=0.5,description=0.5`: a bad one names its field. */
function fieldWeightsOption(value: string): FieldWeights {
  try {
    return parseFieldWeights(value);
  } catch (e) {
    throw e instanceof RangeError ? new InvalidArgumentError(e.message) : e;
  }
}

const DEFAULT_WEIGHTS_TEXT = FIELD_NAMES.map((f) => `${f}=${DEFAULT_FIELD_WEIGHTS[f]}`).join(',');

/** @rg/pipeline fieldsFromAugmented of `file`; a missing, malformed or foreign file is a usage error naming `flag`. */
async function readRetrievalFields(
  file: string,
  store: CorpusStore,
  flag = '--augmented',
): Promise<{ fields: Map<string, RetrievalFields>; records: number; notInStore: number }> {
  return fieldsFromAugmented(file, store).catch((e: unknown) => {
    throw e instanceof AugmentDataError || e instanceof ForeignFieldsError ? new UsageError(`${flag} ${e.message}`) : e;
  });
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
    .option(
      '--augmented <file>',
      `index each document with the tags and description of its record in this augmented file (rg augment; the template's tags where a record has none); ${FIELD_BACKENDS.join(', ')} backends`,
    )
    .option(
      '--field-weights <list>',
      `weights of the indexed fields, stored in the index (default ${DEFAULT_WEIGHTS_TEXT}); ${FIELD_BACKENDS.join(', ')} backends`,
      fieldWeightsOption,
    )
    .option('--json', 'print the summary as one JSON line')
    .action(async (flags: BuildFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const hnsw = { M: flags.hnswM, efConstruction: flags.hnswEfConstruction };
      checkIndexSettings(flags.backend, { hnsw, fieldWeights: flags.fieldWeights, fields: flags.augmented });
      const store = openStore(flags.store);
      const progress = ctx.progress(`index ${flags.backend}`, Math.max(store.count(), 1), 'docs', flags.json);
      try {
        const extra = flags.augmented ? await readRetrievalFields(resolve(ctx.io.cwd, flags.augmented), store) : undefined;
        let shown = 0;
        const built = await buildIndex(flags.store, store, flags.backend, {
          home: config.home,
          threads: config.threads,
          env: ctx.io.env,
          hnsw,
          fieldWeights: flags.fieldWeights,
          batch: flags.batch,
          fields: extra?.fields,
          onProgress: (done) => {
            progress.tick(done - shown);
            shown = done;
          },
        }).catch((e: Error) => {
          // RangeError: a build parameter the backend refuses (e.g. --hnsw-m 1).
          throw e instanceof IndexMissingError || e instanceof RangeError ? new UsageError(e.message) : e;
        });
        progress.stop();
        const { documents: total, seconds, withTags, tagsFromTemplate, fieldWeights } = built;
        const tags = extra && {
          file: resolve(ctx.io.cwd, flags.augmented ?? ''),
          records: extra.records,
          recordsNotInStore: extra.notInStore,
          documentsWithTags: withTags,
          tagsFromTemplate,
        };
        const summary = {
          backend: flags.backend,
          documents: total,
          seconds,
          docsPerSecond: built.docsPerSecond,
          ...(fieldWeights ? { fieldWeights } : {}),
          ...(tags ? { tags } : {}),
        };
        if (flags.json) ctx.json(summary);
        else
          ctx.print(
            `indexed ${total} documents with ${flags.backend} in ${seconds.toFixed(1)} s (${summary.docsPerSecond.toFixed(0)} docs/s)` +
              (tags ? `; ${withTags} with tags and description from ${tags.file}` : ''),
          );
      } finally {
        progress.stop();
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
