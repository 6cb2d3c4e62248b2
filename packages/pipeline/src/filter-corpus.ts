import { realpathSync } from 'node:fs';
import { type CorpusStore, formatFromPath, type InputFormat, readQuestions } from '@rg/corpus';
import type { Retriever } from '@rg/retriever';
import { StepInputError } from './reported.js';

export interface FilterCorpusSummary {
  questions: number;
  /** Distinct documents retrieved for the questions. */
  kept: number;
  /** Of those, the ones `out` did not hold yet. */
  added: number;
  /** Documents in `out` now. */
  documents: number;
}

/**
 * The documents a task needs (rg corpus filter): the top `perQuestion` that `retriever` finds for each question of
 * `questionsFile` (JSON Lines {id, question}, or a PubMedQA / PopQA file), copied from `source` into `out`, so the
 * indexes and the adapters to train cover only them. A question line that cannot be read is a StepInputError naming
 * the file and line; `out` being `source` is one too.
 */
export async function filterCorpus(
  source: CorpusStore,
  out: CorpusStore,
  retriever: Retriever,
  o: { questionsFile: string; format?: InputFormat; perQuestion: number },
): Promise<FilterCorpusSummary> {
  checkFilterOutput(source, out);
  const keep = new Set<string>();
  let questions = 0;
  for await (const q of readQuestions(o.questionsFile, o.format ?? formatFromPath(o.questionsFile))) {
    if (q.error) throw new StepInputError(`${o.questionsFile}:${q.line}: ${q.error}`);
    questions++;
    for (const hit of await retriever.search(q.question?.text ?? '', { k: o.perQuestion })) keep.add(hit.id);
  }
  const docs = [...keep].map((id) => source.get(id)).filter((d) => d !== undefined);
  const { added } = out.add(docs);
  return { questions, kept: keep.size, added, documents: out.count() };
}

/** `out` must be another store than `source`: writing into the source would add nothing and drop nothing while saying "kept N". */
export function checkFilterOutput(source: CorpusStore, out: CorpusStore): void {
  if (realpathSync(source.dir) === realpathSync(out.dir))
    throw new StepInputError(`--out ${out.dir} is the source store (--store ${source.dir}): give a new folder for the kept documents`);
}
