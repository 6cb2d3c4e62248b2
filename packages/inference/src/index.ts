export { CHEMPROT_LABELS, loadChemProt } from './datasets/chemprot.js';
export { DatasetError } from './datasets/errors.js';
export { loadJsonlCorpus, loadJsonlQa } from './datasets/jsonl.js';
export { loadPopQa } from './datasets/popqa.js';
export { loadPubMedQa, PUBMEDQA_LABELS } from './datasets/pubmedqa.js';
export type { CorpusDocument, Dataset, PrimaryMetric, QaExample } from './datasets/types.js';
export { accuracy, answerInOutput, exactMatch, macroF1, mean, normalizeAnswer, tokenF1 } from './metrics.js';
