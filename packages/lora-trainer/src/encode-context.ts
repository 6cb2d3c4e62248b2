import type { AdapterStore, DocAdapterKey } from '@rg/adapter-store';
import type { CausalLM, TrainingSession } from '@rg/engine';
import type { LoraAdapter } from '@rg/lora';
import type { ChatEncoder } from './prompts.js';

/** What encoding adapters needs: the training session, the tokenizer, the store and the scope adapters go into. */
export interface EncodeContext {
  session: TrainingSession;
  encoder: ChatEncoder;
  store: AdapterStore;
  /** The shared initial adapter (base_weight) every adapter starts from. */
  base: LoraAdapter;
  /** Store key without the adapter id: model, rank, alpha, dataset, lr, epochs. */
  scope: Omit<DocAdapterKey, 'id'>;
  modelFingerprint: string;
  /**
   * The frozen warm-up adapter the session's base weights include (openTrainingRun's `warmup`): every adapter
   * trained in this context sits on top of it, and records it in its trainingConfig (`warmup`).
   */
  warmup?: WarmupIdentity;
  /**
   * The model the adapters are trained on, without adapter, on the inference graph: the teacher of a distill / both
   * recipe (openTrainingRun's `distill`). The session must then be a distilling one too.
   */
  teacher?: CausalLM;
}

/** What identifies the warm-up a document adapter was trained on top of (its store key and content sha256). */
export interface WarmupIdentity {
  key: DocAdapterKey;
  /** The store's sha256 over the adapter's files (ManifestEntry.contentHash): another training gives another one. */
  sha256: string;
}
