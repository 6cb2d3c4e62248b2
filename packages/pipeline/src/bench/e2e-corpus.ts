import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CorpusStore, type InputFormat } from '@rg/corpus';
import { chemprotCorpus, DatasetError, type QaExample, writeFileAtomic } from '@rg/inference';
import { openRetriever } from '@rg/retriever';
import { BenchInputError } from './errors.js';

/** The corpus file a bench e2e run ingests, and its format (default: from the file name). */
export interface CorpusInput {
  file: string;
  format?: InputFormat;
}

/** The corpus ChemProt's questions retrieve from, written into the run's folder (see chemprotCorpusFile). */
export const CHEMPROT_CORPUS_FILE = 'chemprot-corpus.jsonl';

/**
 * Where a dataset's corpus comes from: `--corpus` when given; PubMedQA's and PopQA's own files, which the corpus
 * package reads as they are published; ChemProt's derived corpus (it publishes none); otherwise the user must
 * name one.
 */
export function corpusInput(
  flags: { dataset: string; corpus?: string },
  name: string,
  dataDir: string,
  cwd: string,
  out: string,
): CorpusInput {
  if (flags.corpus) return { file: resolve(cwd, flags.corpus) };
  if (name === 'pubmedqa') return { file: join(dataDir, 'pubmedqa', 'ori_pqal.json'), format: 'pubmedqa' };
  if (name === 'popqa') return { file: join(dataDir, 'popqa', 'popqa.json'), format: 'popqa' };
  if (name === 'chemprot') return { file: chemprotCorpusFile(join(dataDir, 'chemprot'), out), format: 'jsonl' };
  throw new BenchInputError(`--dataset ${flags.dataset}: give the corpus with --corpus CORPUS.jsonl`);
}

/**
 * ChemProt's domain corpus (train.txt's sentences, marks and labels removed, duplicates merged: chemprotCorpus) as
 * JSON Lines in `out`. Rewritten only when its content changes: ingest ties its checkpoint to the file's bytes and
 * mtime, and a resumed benchmark must find the corpus it ingested before.
 */
export function chemprotCorpusFile(chemprotDir: string, out: string): string {
  let documents: ReturnType<typeof chemprotCorpus>;
  try {
    documents = chemprotCorpus(chemprotDir);
  } catch (e) {
    throw e instanceof DatasetError ? new BenchInputError(e.message) : e;
  }
  const file = join(out, CHEMPROT_CORPUS_FILE);
  const text = documents.map((d) => `${JSON.stringify({ id: d.id, text: d.text })}\n`).join('');
  if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
    mkdirSync(out, { recursive: true });
    writeFileAtomic(file, text);
  }
  return file;
}

/** The documents the questions need (neededDocuments) written to `docsFile` as JSON Lines; their ids. */
export async function writeNeededDocuments(corpus: string, examples: QaExample[], topk: number, docsFile: string): Promise<string[]> {
  const needed = await neededDocuments(corpus, examples, topk);
  const store = CorpusStore.open(corpus);
  try {
    const docs = needed.flatMap((id) => store.get(id) ?? []).map((d) => ({ id: d.id, title: d.title, text: d.text }));
    writeFileAtomic(docsFile, docs.map((d) => `${JSON.stringify(d)}\n`).join(''));
    return docs.map((d) => d.id);
  } finally {
    store.close();
  }
}

/** Retrieved ids of every question plus the gold ids, first-seen order. */
async function neededDocuments(
  storeDir: string,
  examples: Array<{ question: string; goldDocIds?: string[] }>,
  k: number,
): Promise<string[]> {
  const retriever = await openRetriever('sqlite', { storeDir });
  const ids = new Set<string>();
  try {
    for (const ex of examples) {
      for (const h of await retriever.search(ex.question, { k })) ids.add(h.id);
      for (const id of ex.goldDocIds ?? []) ids.add(id);
    }
  } finally {
    await retriever.close();
  }
  return [...ids];
}
