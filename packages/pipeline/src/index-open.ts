import type { CorpusStore } from '@rg/corpus';
import { IndexMissingError, openRetriever, type Retriever } from '@rg/retriever';
import { buildIndex } from './build-index.js';
import { retrieverBackend } from './settings.js';
import type { CollectionSettings, ModelRuntime } from './types.js';

/**
 * The collection's retrieval index. One that does not exist yet (a new collection, or a corpus from `rg corpus
 * ingest` that was never indexed) is built from the corpus store first, as `rg index build` does (buildIndex:
 * written beside and swapped in only when complete, so a crash during the build leaves no half index).
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
  await buildIndex(storeDir, corpus, name, { home: runtime.home, threads: runtime.threads, env: process.env });
  return openRetriever(name, options);
}
