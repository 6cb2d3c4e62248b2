import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AugmentRunOptions,
  type AugmentRunSummary,
  type Passage,
  type PassageInput,
  passagesFromPrag,
  readPassages,
  runAugment,
} from '@rg/augment';
import { CorpusStore, STORE_FILE } from '@rg/corpus';
import { StepInputError } from './reported.js';

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

/**
 * What to augment: a corpus store folder's documents, or a JSON Lines / published-layout file's passages; the first
 * `sample` only, when given. A missing path, a folder that is no store, or nothing to augment is a StepInputError.
 */
export async function readAugmentInput(path: string, sample?: number): Promise<PassageInput> {
  if (!existsSync(path)) throw new StepInputError(`${path}: no such file or folder`);
  let input: PassageInput;
  if (statSync(path).isDirectory()) {
    if (!existsSync(join(path, STORE_FILE))) throw new StepInputError(`${path}: a folder must be a corpus store (no ${STORE_FILE} in it)`);
    const store = CorpusStore.open(path);
    try {
      input = { passages: corpusPassages(store, sample) };
    } finally {
      store.close();
    }
  } else {
    input = await readPassages(path);
    // In the published layout, as in the original's --sample, the sample counts items (questions), not passages.
    if (sample !== undefined && input.pragItems) {
      const items = input.pragItems.slice(0, sample);
      input = { passages: passagesFromPrag(items, path), pragItems: items };
    } else if (sample !== undefined) input = { passages: input.passages.slice(0, sample) };
  }
  if (input.passages.length === 0) throw new StepInputError(`${path}: no passages`);
  return input;
}
