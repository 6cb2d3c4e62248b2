import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { InputFormat } from '@rg/corpus';
import { chemprotCorpus, DatasetError, writeFileAtomic } from '@rg/inference';
import { UsageError } from '../errors.js';

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
  throw new UsageError(`--dataset ${flags.dataset}: give the corpus with --corpus CORPUS.jsonl`);
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
    throw e instanceof DatasetError ? new UsageError(e.message) : e;
  }
  const file = join(out, CHEMPROT_CORPUS_FILE);
  const text = documents.map((d) => `${JSON.stringify({ id: d.id, text: d.text })}\n`).join('');
  if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
    mkdirSync(out, { recursive: true });
    writeFileAtomic(file, text);
  }
  return file;
}
