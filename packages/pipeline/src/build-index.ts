import { existsSync } from 'node:fs';
import { AugmentDataError, type RetrievalFields, readAugmented, retrievalFields } from '@rg/augment';
import type { CorpusStore } from '@rg/corpus';
import {
  abortBuild,
  type BackendName,
  commitBuild,
  DEFAULT_FIELD_WEIGHTS,
  FIELD_BACKENDS,
  type FieldWeights,
  type Document as IndexedDocument,
  type OpenOptions,
  openRetriever,
  writeIndexStamp,
} from '@rg/retriever';

export interface BuildIndexOptions extends Omit<OpenOptions, 'storeDir' | 'build'> {
  /** Documents per write (default 1000). */
  batch?: number;
  /**
   * Tags and description per document id (augment's `retrievalFields`; field backends only). Documents without an
   * entry are indexed with their title and text alone.
   */
  fields?: ReadonlyMap<string, RetrievalFields>;
  /** After each write: the documents written so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface BuildIndexSummary {
  backend: BackendName;
  documents: number;
  seconds: number;
  docsPerSecond: number;
  /** Documents indexed with an entry of `fields`, and those of them whose tags are the template's. */
  withTags: number;
  tagsFromTemplate: number;
  /** Field backends: the weights stored with the index (the defaults with the given ones over them). */
  fieldWeights?: FieldWeights;
}

/** Backends that index tags and descriptions beside title and text, with per-field weights. */
const hasFields = (backend: string) => (FIELD_BACKENDS as readonly string[]).includes(backend);

/** Build settings that do not go with the backend, named as rg index build's flags: the caller's to fix. */
export class IndexSettingsError extends Error {
  override name = 'IndexSettingsError';
}

/**
 * Build settings the backend would not use, or refuse after the encoder has loaded: refused first. `fields` is
 * anything standing for per-document tags (the map buildIndex takes, or the augmented file that will give it).
 */
export function checkIndexSettings(
  backend: string,
  s: { hnsw?: { M?: number; efConstruction?: number }; fieldWeights?: Partial<FieldWeights>; fields?: unknown },
): void {
  const { M, efConstruction } = s.hnsw ?? {};
  if ((M !== undefined || efConstruction !== undefined) && backend !== 'hnsw')
    throw new IndexSettingsError('--hnsw-m and --hnsw-ef-construction apply to --backend hnsw only');
  // hnswlib itself fails on M = 1 with a misleading "Not enough memory".
  if (M !== undefined && M < 2)
    throw new IndexSettingsError(`--hnsw-m ${M}: expected an integer >= 2 (links per node; hnswlib spreads levels by 1/ln(M))`);
  if (hasFields(backend)) return;
  for (const [flag, given] of [
    ['--augmented', s.fields],
    ['--field-weights', s.fieldWeights],
  ] as const)
    if (given !== undefined)
      throw new IndexSettingsError(
        `${flag} applies to --backend ${FIELD_BACKENDS.join(', ')} only (${backend} embeds title and text, it has no tags field)`,
      );
}

/**
 * Index every document of `corpus` (the store in `storeDir`) with `backend`. The new index is written beside the
 * current one and swapped in only when complete: a failure (or a crash) leaves the current index as it was and no
 * half-built files. A stamp records the store generation it was built from, read before iterating, so a concurrent
 * ingest makes the stamp older, never newer, than the index. `openRetriever`'s errors pass through (IndexMissingError,
 * RangeError for a build parameter the backend refuses).
 */
export async function buildIndex(
  storeDir: string,
  corpus: CorpusStore,
  backend: BackendName,
  options: BuildIndexOptions = {},
): Promise<BuildIndexSummary> {
  const { batch: batchSize = 1000, fields, onProgress, ...open } = options;
  checkIndexSettings(backend, { hnsw: open.hnsw, fieldWeights: open.fieldWeights, fields });
  const generation = corpus.generation();
  const total = corpus.count();
  const t0 = performance.now();
  let withTags = 0;
  let tagsFromTemplate = 0;
  const retriever = await openRetriever(backend, { ...open, storeDir, build: true }).catch((e: unknown) => {
    abortBuild(storeDir, backend);
    throw e;
  });
  try {
    let done = 0;
    let batch: IndexedDocument[] = [];
    const write = async () => {
      await retriever.add(batch);
      done += batch.length;
      onProgress?.(done, total);
      batch = [];
    };
    for (const doc of corpus.iterate()) {
      const extra = fields?.get(doc.id);
      if (extra) {
        withTags++;
        if (extra.tagsFrom === 'template') tagsFromTemplate++;
      }
      // The extra fields go to the index only: the store's passage, which prompts show, stays as it is.
      batch.push(extra ? { ...doc, tags: extra.tags, description: extra.description } : doc);
      if (batch.length >= batchSize) await write();
    }
    await write();
  } catch (e) {
    await retriever.close().catch(() => {});
    abortBuild(storeDir, backend);
    throw e;
  }
  await retriever.close();
  commitBuild(storeDir, backend);
  writeIndexStamp(storeDir, { backend, generation, documents: total });
  const seconds = (performance.now() - t0) / 1000;
  const fieldWeights = hasFields(backend) ? { ...DEFAULT_FIELD_WEIGHTS, ...open.fieldWeights } : undefined;
  return {
    backend,
    documents: total,
    seconds,
    docsPerSecond: total / Math.max(seconds, 1e-9),
    withTags,
    tagsFromTemplate,
    ...(fieldWeights ? { fieldWeights } : {}),
  };
}

/** An augmented file none of whose passages is a document of the store (augmented from another corpus). */
export class ForeignFieldsError extends Error {
  override name = 'ForeignFieldsError';
}

/**
 * Tags and description per document id from an augmented file (latest record per passage), for buildIndex's
 * `fields`: the records of passages the store does not hold are counted, not used. AugmentDataError for a missing or
 * malformed file, ForeignFieldsError when none of its passages is in the store.
 */
export async function fieldsFromAugmented(
  file: string,
  corpus: CorpusStore,
): Promise<{ fields: Map<string, RetrievalFields>; records: number; notInStore: number }> {
  if (!existsSync(file)) throw new AugmentDataError(`${file}: not found (an augmented JSON Lines file from rg augment)`);
  const records = await readAugmented(file);
  const fields = new Map<string, RetrievalFields>();
  for (const r of records) if (corpus.get(r.passageId) !== undefined) fields.set(r.passageId, retrievalFields(r));
  if (records.length > 0 && fields.size === 0)
    throw new ForeignFieldsError(
      `${file}: none of its ${records.length} passage ids is a document of the store ${corpus.dir} (augmented from another corpus?)`,
    );
  return { fields, records: records.length, notInStore: records.length - fields.size };
}
