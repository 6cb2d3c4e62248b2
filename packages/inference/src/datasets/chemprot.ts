import { join } from 'node:path';
import { DatasetError } from './errors.js';
import { field, readJsonLines } from './read.js';
import type { CorpusDocument, Dataset, QaExample } from './types.js';

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
 * marked `<< >>` and `[[ ]]`). The question is the marked sentence: the label names the relation between the two
 * marked entities, so the marks must reach the model. The domain corpus is not part of the split: see chemprotCorpus.
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

// The release writes each mark with one space inside ("<< Ang II >>-induced"). Only that spelled-out form is a mark:
// the sentences also hold ">>" ("STA2>>17-phenyl") and "[[" ("6[[(3-iodophenyl)") as part of their text.
const MARKS = [
  ['<< ', ' >>'],
  ['[[ ', ' ]]'],
] as const;

/**
 * The sentence without its two entity marks ("<< Ang II >>-induced" -> "Ang II-induced"). Each close is the first
 * one after its open, so a ">>" later in the sentence stays. A mark opened and never closed throws: removing half of
 * it would leave a stray bracket in the corpus.
 */
export function removeChemProtMarks(text: string): string {
  const cuts: Array<[start: number, end: number]> = [];
  for (const [open, close] of MARKS) {
    const start = text.indexOf(open);
    if (start === -1) continue;
    const end = text.indexOf(close, start + open.length);
    if (end === -1) throw new Error(`"${open.trim()}" opened at character ${start} is never closed by "${close.trim()}"`);
    cuts.push([start, start + open.length], [end, end + close.length]);
  }
  // Cut from the right so that earlier positions stay valid, whichever mark comes first or nests.
  cuts.sort((a, b) => b[0] - a[0]);
  let out = text;
  for (const [start, end] of cuts) out = out.slice(0, start) + out.slice(end);
  return out;
}

/**
 * The domain corpus of ChemProt: the `train` split's sentences with their labels and entity marks removed, one
 * document per distinct sentence. The release repeats a sentence once per marked entity pair (4,169 lines, 1,653
 * sentences), so duplicates are merged; a document's id is the line of the sentence's first appearance
 * (`chemprot-train-<line>`), stable as long as train.txt is. Only train: dev and test sentences are the questions,
 * and a corpus holding them would hand every question its own sentence.
 */
export function chemprotCorpus(dir: string): CorpusDocument[] {
  const file = join(dir, 'train.txt');
  const seen = new Set<string>();
  const documents: CorpusDocument[] = [];
  for (const { line, value } of readJsonLines(file)) {
    const marked = field(file, value as Record<string, unknown>, 'text', line).string();
    let text: string;
    try {
      text = removeChemProtMarks(marked).trim();
    } catch (e) {
      throw new DatasetError(file, (e as Error).message, { line, field: 'text' });
    }
    if (seen.has(text)) continue;
    seen.add(text);
    documents.push({ id: `chemprot-train-${line}`, text });
  }
  return documents;
}
