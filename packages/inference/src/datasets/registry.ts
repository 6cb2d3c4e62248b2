import { join } from 'node:path';
import { loadChemProt } from './chemprot.js';
import { DatasetError } from './errors.js';
import { loadJsonlQa } from './jsonl.js';
import { loadPopQa } from './popqa.js';
import { loadPubMedQa } from './pubmedqa.js';
import type { Dataset } from './types.js';

export const DATASET_NAMES = ['pubmedqa', 'popqa', 'chemprot'] as const;

/**
 * The splits each dataset can be loaded with, its default first (what a command without `--split` gets, as before
 * splits were chosen). Recipes are chosen on `dev`; the tables that report a method are made on `test`.
 * - pubmedqa: `test` = the official 500-question test split (test_ground_truth.json), `dev` = the other 500 of PQA-L.
 * - popqa: `all` = the 1,000 questions; `dev` / `test` = 500 / 500 by a fixed seeded shuffle (POPQA_SPLIT).
 * - chemprot: the published `test.txt`, `dev.txt`, `train.txt`.
 * - jsonl:FILE: `all` only (the file is the split).
 */
export const DATASET_SPLITS = {
  pubmedqa: ['test', 'dev', 'all'],
  popqa: ['all', 'dev', 'test'],
  chemprot: ['test', 'dev', 'train'],
  jsonl: ['all'],
} as const satisfies Record<(typeof DATASET_NAMES)[number] | 'jsonl', readonly string[]>;

/**
 * A dataset by name as the CLI takes it: `pubmedqa`, `popqa` or `chemprot` (their published files under
 * `dataDir/<name>/`), or `jsonl:QUESTIONS.jsonl` (the generic format), restricted to `split` (see DATASET_SPLITS;
 * absent: the dataset's default split). The loaded Dataset names its split.
 */
export function loadDataset(spec: string, options: { dataDir: string; split?: string }): Dataset {
  const { dataDir, split } = options;
  const checkSplit = <const S extends string>(allowed: readonly [S, ...S[]]): S => {
    if (split === undefined) return allowed[0];
    if (!(allowed as readonly string[]).includes(split))
      throw new DatasetError(spec, `unknown split "${split}" (expected ${allowed.join(', ')})`);
    return split as S;
  };
  if (spec.startsWith('jsonl:')) {
    checkSplit(DATASET_SPLITS.jsonl);
    return loadJsonlQa(spec.slice('jsonl:'.length));
  }
  switch (spec) {
    case 'pubmedqa':
      return loadPubMedQa(join(dataDir, 'pubmedqa'), checkSplit(DATASET_SPLITS.pubmedqa));
    case 'popqa':
      return loadPopQa(join(dataDir, 'popqa', 'popqa.json'), checkSplit(DATASET_SPLITS.popqa));
    case 'chemprot':
      return loadChemProt(join(dataDir, 'chemprot'), checkSplit(DATASET_SPLITS.chemprot));
    default:
      throw new DatasetError(spec, `unknown dataset (expected ${DATASET_NAMES.join(', ')} or jsonl:QUESTIONS.jsonl)`);
  }
}
