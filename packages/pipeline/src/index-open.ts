import type { CorpusStore, Document } from '@rg/corpus';
import { abortBuild, commitBuild, IndexMissingError, openRetriever, type Retriever } from '@rg/retriever';
import { retrieverBackend } from './settings.js';
import type { CollectionSettings, ModelRuntime } from './types.js';

const BUILD_BATCH = 1000;

/**
 * The collection's retrieval index. One that does not exist yet (a new collection, or a corpus from `rg corpus
 * ingest` that was never indexed) is built from the corpus store first, as `rg index build` does: written beside
 * and swapped in only when complete, so a crash during the build leaves no half index.
 */
export async function openIndex(
  storeDir: string,
  backend: CollectionSettings['backend'],
  corpus: CorpusStore,
  runtime: Pick<ModelRuntime, 'home' | 'threads'>,
): Promise<Retriever> {
  const name = retrieverBackend(backend);
  const options = { storeDir, home: runtime.home, threads: runtime.threads, env: process.env };
  try {
    return await openRetriever(name, options);
  } catch (e) {
    if (!(e instanceof IndexMissingError)) throw e;
  }
  const building = await openRetriever(name, { ...options, build: true });
  try {
    let batch: Document[] = [];
    for (const doc of corpus.iterate()) {
      batch.push(doc);
      if (batch.length >= BUILD_BATCH) {
        await building.add(batch);
        batch = [];
      }
    }
    await building.add(batch);
    await building.close();
  } catch (e) {
    await building.close().catch(() => {});
    abortBuild(storeDir, name);
    throw e;
  }
  commitBuild(storeDir, name);
  return openRetriever(name, options);
}
