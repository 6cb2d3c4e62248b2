import { join } from 'node:path';
import { DatasetError } from './errors.js';
import { field, readJson } from './read.js';
import type { CorpusDocument, Dataset, QaExample } from './types.js';

export const PUBMEDQA_LABELS = ['yes', 'no', 'maybe'];

/**
 * PubMedQA PQA-L from its published files: `ori_pqal.json` (1,000 questions keyed by PMID, each with the
 * abstract's CONTEXTS and a final_decision) and `test_ground_truth.json` (the official 500-question test split).
 * Every abstract becomes one document (id = PMID, its contexts joined); a question's gold document is its own.
 * `split`: 'test' (official), 'dev' (the other 500: where recipes are chosen, since nothing here trains on labels)
 * or 'all'. The corpus is always all 1,000 abstracts.
 */
export function loadPubMedQa(dir: string, split: 'test' | 'dev' | 'all' = 'test'): Dataset {
  const mainFile = join(dir, 'ori_pqal.json');
  const testFile = join(dir, 'test_ground_truth.json');
  const root = readJson(mainFile);
  if (root === null || typeof root !== 'object' || Array.isArray(root))
    throw new DatasetError(mainFile, 'expected an object keyed by PMID');

  const documents: CorpusDocument[] = [];
  const all = new Map<string, QaExample>();
  for (const [pmid, raw] of Object.entries(root as Record<string, unknown>)) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      throw new DatasetError(mainFile, 'expected an object', { field: pmid });
    const rec = raw as Record<string, unknown>;
    const question = field(mainFile, rec, 'QUESTION', undefined, pmid).string();
    const contexts = field(mainFile, rec, 'CONTEXTS', undefined, pmid).stringArray({ nonEmpty: true });
    const decision = field(mainFile, rec, 'final_decision', undefined, pmid).string();
    if (!PUBMEDQA_LABELS.includes(decision)) {
      throw new DatasetError(mainFile, `expected one of ${PUBMEDQA_LABELS.join('/')}, got "${decision}"`, {
        field: `${pmid}.final_decision`,
      });
    }
    documents.push({ id: pmid, text: contexts.join(' ') });
    all.set(pmid, { id: pmid, question, answers: [decision], choices: PUBMEDQA_LABELS, goldDocIds: [pmid] });
  }

  let examples = [...all.values()];
  if (split !== 'all') {
    const truth = readJson(testFile);
    if (truth === null || typeof truth !== 'object' || Array.isArray(truth))
      throw new DatasetError(testFile, 'expected an object mapping PMID to label');
    const testIds = new Set<string>();
    for (const [pmid, label] of Object.entries(truth as Record<string, unknown>)) {
      const ex = all.get(pmid);
      if (!ex) throw new DatasetError(testFile, `PMID not found in ${mainFile}`, { field: pmid });
      if (label !== ex.answers[0])
        throw new DatasetError(testFile, `label "${String(label)}" disagrees with final_decision "${ex.answers[0]}"`, { field: pmid });
      testIds.add(pmid);
    }
    examples = examples.filter((ex) => testIds.has(ex.id) === (split === 'test'));
  }
  return {
    name: 'pubmedqa',
    examples,
    documents,
    primaryMetric: 'accuracy',
    labels: PUBMEDQA_LABELS,
    instruction: 'Answer the biomedical research question with yes, no or maybe.',
    split,
  };
}
