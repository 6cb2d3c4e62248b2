import { join } from 'node:path';
import { DatasetError } from './errors.js';
import { field, readJsonLines } from './read.js';
import type { Dataset, QaExample } from './types.js';

/** The 13 fine-grained relation labels of SciBERT's ChemProt release. */
export const CHEMPROT_LABELS = [
  'INHIBITOR',
  'SUBSTRATE',
  'INDIRECT-DOWNREGULATOR',
  'INDIRECT-UPREGULATOR',
  'ACTIVATOR',
  'ANTAGONIST',
  'PRODUCT-OF',
  'AGONIST',
  'DOWNREGULATOR',
  'UPREGULATOR',
  'SUBSTRATE_PRODUCT-OF',
  'AGONIST-ACTIVATOR',
  'AGONIST-INHIBITOR',
];

/**
 * ChemProt relation classification (JSON Lines `{text, label, metadata}` in `{split}.txt`; the two entities are
 * marked `<< >>` and `[[ ]]`). No corpus comes with it: retrieval and adapters use a corpus supplied separately.
 */
export function loadChemProt(dir: string, split: 'train' | 'dev' | 'test' = 'test'): Dataset {
  const file = join(dir, `${split}.txt`);
  const examples: QaExample[] = [];
  for (const { line, value } of readJsonLines(file)) {
    const rec = value as Record<string, unknown>;
    const text = field(file, rec, 'text', line).string();
    const label = field(file, rec, 'label', line).string();
    if (!CHEMPROT_LABELS.includes(label)) {
      throw new DatasetError(file, `unknown label "${label}" (expected one of ${CHEMPROT_LABELS.join(', ')})`, { line, field: 'label' });
    }
    examples.push({ id: `${split}-${line}`, question: text, answers: [label], choices: CHEMPROT_LABELS });
  }
  return {
    name: 'chemprot',
    examples,
    documents: [],
    primaryMetric: 'accuracy',
    labels: CHEMPROT_LABELS,
    instruction:
      'Classify the relation between the two entities marked << >> and [[ ]] in the sentence. Answer with one label: ' +
      `${CHEMPROT_LABELS.join(', ')}.`,
    split,
  };
}
