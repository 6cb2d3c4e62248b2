import { buildMessages, type Dataset, loadDataset, type QaExample, sampleExamples } from '@rg/inference';
import type { WarmupPair } from '@rg/lora-trainer';

/** A split or file the warm-up must not train on (test questions); the message says what is expected instead. */
export class WarmupSplitError extends RangeError {
  override name = 'WarmupSplitError';
}

/**
 * The split a dataset's warm-up questions come from by default: its training split where rg has one (ChemProt's
 * train.txt), else the non-test half of the fixed split (PubMedQA's and PopQA's dev); none for a jsonl: file.
 */
export function defaultWarmupSplit(dataset: string): string | undefined {
  if (dataset.startsWith('jsonl:')) return undefined;
  return dataset === 'chemprot' ? 'train' : 'dev';
}

export interface WarmupPairsOptions {
  dataDir: string;
  /** Default: defaultWarmupSplit. `test` and `all` (which holds the test questions) are refused. */
  split?: string;
  /** Pairs wanted: a seeded sample of what is left (all of it when fewer are left). */
  n: number;
  seed: number;
  /** Leave out the questions an evaluation of the same split asks (`sampleExamples(examples, sample, seed)`). */
  exclude?: { sample: number; seed: number };
}

export interface WarmupPairs {
  dataset: Dataset;
  /** The split they came from (`file` for a jsonl: file). */
  split: string;
  pairs: WarmupPair[];
  /** Questions the split had left after the exclusion (pairs.length < n when fewer than n). */
  candidates: number;
  excluded: number;
}

/**
 * The warm-up's question -> answer pairs of a dataset (`pubmedqa`, `popqa`, `chemprot`, `jsonl:FILE`): its non-test
 * questions, less an evaluation's sample, each as the closed-book prompt the answerer sends and its first accepted
 * answer. Throws WarmupSplitError for a split holding test questions, DatasetError (@rg/inference) for a bad dataset.
 */
export function warmupPairs(spec: string, options: WarmupPairsOptions): WarmupPairs {
  const jsonl = spec.startsWith('jsonl:');
  if (jsonl && options.split !== undefined)
    throw new WarmupSplitError('--split: a jsonl: file is one split (give a file of training questions, not of test questions)');
  const split = jsonl ? undefined : (options.split ?? defaultWarmupSplit(spec));
  if (split === 'test' || split === 'all')
    throw new WarmupSplitError(
      `--split ${split}: the warm-up never trains on test questions${split === 'all' ? ' (all holds them)' : ''}; expected ${spec === 'chemprot' ? 'train or dev' : 'dev'} (the questions outside the test split)`,
    );
  const dataset = loadDataset(spec, { dataDir: options.dataDir, split });
  const left = options.exclude
    ? new Set(sampleExamples(dataset.examples, options.exclude.sample, options.exclude.seed).map((e) => e.id))
    : new Set<string>();
  const candidates = dataset.examples.filter((e) => !left.has(e.id));
  const pairs = sampleExamples(candidates, options.n, options.seed).map((e) => warmupPair(e, dataset.instruction));
  return { dataset, split: split ?? 'file', pairs, candidates: candidates.length, excluded: left.size };
}

/** A question as a warm-up pair: the closed-book prompt the answerer sends, and the first accepted answer. */
export function warmupPair(example: QaExample, instruction: string | undefined): WarmupPair {
  const [message] = buildMessages(example.question, { instruction });
  return { id: example.id, prompt: message.content, answer: example.answers[0] };
}
