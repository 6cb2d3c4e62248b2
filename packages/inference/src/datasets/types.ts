/** One document of a dataset's corpus: what retrieval indexes and what adapters are trained on. */
export interface CorpusDocument {
  id: string;
  title?: string;
  text: string;
}

/**
 * One question. `answers` are the accepted answers (for a classification task, the one gold label).
 * When `choices` is set the answer is chosen among them by label log-likelihood instead of generated.
 */
export interface QaExample {
  id: string;
  question: string;
  answers: string[];
  choices?: string[];
  /** Documents that hold the answer, where the dataset names them (used by the `oracle` method). */
  goldDocIds?: string[];
}

/** Which metric a dataset reports first (the per-question `score` in predict.json). */
export type PrimaryMetric = 'accuracy' | 'contains' | 'em' | 'f1';

export interface Dataset {
  /** Short name used in output paths, e.g. "pubmedqa". */
  name: string;
  examples: QaExample[];
  /** The corpus that comes with the dataset (empty when the corpus is supplied separately). */
  documents: CorpusDocument[];
  primaryMetric: PrimaryMetric;
  /** Closed label set of a classification dataset. */
  labels?: string[];
  /** A task line put at the top of every prompt (e.g. "Answer with yes, no or maybe."). */
  instruction?: string;
  /** Which of the dataset's questions `examples` holds: `dev`, `test`, `train` or `all` (see each loader). */
  split?: string;
}
