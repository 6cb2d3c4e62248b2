import { join } from 'node:path';
import { loadChemProt } from './chemprot.js';
import { DatasetError } from './errors.js';
import { loadJsonlQa } from './jsonl.js';
import { loadPopQa } from './popqa.js';
import { loadPubMedQa } from './pubmedqa.js';
import type { Dataset } from './types.js';

export const DATASET_NAMES = ['pubmedqa', 'popqa', 'chemprot'] as const;

/**
 * A dataset by name as the CLI takes it: `pubmedqa`, `popqa` or `chemprot` (their published files under
 * `dataDir/<name>/`), or `jsonl:QUESTIONS.jsonl` (the generic format). `split` applies to PubMedQA
 * (test|train|all) and ChemProt (train|dev|test); the default is each one's test split.
 */
export function loadDataset(spec: string, options: { dataDir: string; split?: string }): Dataset {
  const { dataDir, split } = options;
  const checkSplit = <const S extends string>(allowed: readonly S[], dflt: NoInfer<S>): S => {
    if (split === undefined) return dflt;
    if (!(allowed as readonly string[]).includes(split))
      throw new DatasetError(spec, `unknown split "${split}" (expected ${allowed.join(', ')})`);
    return split as S;
  };
  if (spec.startsWith('jsonl:')) return loadJsonlQa(spec.slice('jsonl:'.length));
  switch (spec) {
    case 'pubmedqa':
      return loadPubMedQa(join(dataDir, 'pubmedqa'), checkSplit(['test', 'train', 'all'], 'test'));
    case 'popqa':
      checkSplit(['all'], 'all');
      return loadPopQa(join(dataDir, 'popqa', 'popqa.json'));
    case 'chemprot':
      return loadChemProt(join(dataDir, 'chemprot'), checkSplit(['train', 'dev', 'test'], 'test'));
    default:
      throw new DatasetError(spec, `unknown dataset (expected ${DATASET_NAMES.join(', ')} or jsonl:QUESTIONS.jsonl)`);
  }
}
