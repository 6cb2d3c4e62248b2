import type { GeneratorSettings } from '@rg/augment';
import type { ComposeMode, MethodOutcome, QaExample } from '@rg/inference';
import type { ExampleLayout, LossSpan, Objective } from '@rg/lora-trainer';

/**
 * The settings of an end-to-end run (rg bench e2e's flags): how it augments (rg augment's generator settings), what it
 * trains, how it answers, what figures.json records.
 */
export interface E2eSettings extends GeneratorSettings {
  dataset: string;
  corpus?: string;
  dataDir: string;
  split?: 'dev' | 'test' | 'all';
  sample: number;
  seed: number;
  topk: number;
  rank: number;
  alpha: number;
  lr: number;
  epochs: number;
  examples: ExampleLayout;
  loss: LossSpan;
  /** rg encode --objective (and its --distill-topk / --distill-weight), passed to the encode steps. */
  objective: Objective;
  distillTopk?: number;
  distillWeight?: number;
  compose: ComposeMode;
  /** rg infer --adapter-scale for every composing column (default 1). */
  adapterScale?: number;
  /** false with --no-dapt. */
  dapt: boolean;
  warmup?: boolean;
  warmupN: number;
  warmupLr: number;
  warmupEpochs: number;
  clusterK: number[];
  representatives: number;
  clusterTop: number;
  /** Index the augmenter's tags and descriptions with the passages (rg index build --augmented). */
  tags?: boolean;
  /** rg encode --gradient-checkpointing, for the document, DAPT and cluster adapters. */
  gradientCheckpointing?: boolean;
}

/** Why the DAPT column is empty with --no-dapt. */
export const NO_DAPT = '--no-dapt was given';

/** What the columns answer with: the corpus store, the sampled questions, the adapters and one clustering per k. */
export interface E2eColumns {
  corpus: string;
  examples: QaExample[];
  /** The documents the adapters were trained on (those the questions need). */
  documentIds: string[];
  adapters: string;
  /** Per k its corpus store, or why it has no column. */
  clusterRuns: Array<{ k: number; store: string; why?: string }>;
}

/** What every column answered: the methods over the documents' adapters, without the warm-up, per k the clusters. */
export interface E2eAnswers {
  outcomes: MethodOutcome[];
  /** Base and RAG without the warm-up (--warmup only). */
  plain: MethodOutcome[];
  clusterOutcomes: Map<number, MethodOutcome>;
}
