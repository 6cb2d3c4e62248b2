import { type AugmentRunOptions, type AugmentRunSummary, type Passage, runAugment } from '@rg/augment';
import type { CorpusStore } from '@rg/corpus';

/** The store's documents as augment's passages, in store order (the first `sample` only, when given). */
export function corpusPassages(corpus: CorpusStore, sample?: number): Passage[] {
  const passages: Passage[] = [];
  for (const doc of corpus.iterate()) {
    if (sample !== undefined && passages.length >= sample) break;
    passages.push({ id: doc.id, text: doc.text, ...(doc.title ? { title: doc.title } : {}) });
  }
  return passages;
}

/**
 * Augment every document of a corpus store (or the first `sample`) into a JSON Lines file with `runAugment`:
 * appended to and resumable, a passage already in the file is skipped. The run's own outcome is in the summary
 * (`interrupted`, `ok`/`failed`); deciding whether it is good enough is the caller's.
 */
export async function augmentCorpus(
  corpus: CorpusStore,
  options: Omit<AugmentRunOptions, 'passages'> & { sample?: number },
): Promise<AugmentRunSummary> {
  const { sample, ...run } = options;
  const passages = corpusPassages(corpus, sample);
  if (passages.length === 0) throw new Error(`${corpus.dir}: no documents to augment`);
  return runAugment({ ...run, passages });
}
