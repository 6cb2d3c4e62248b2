import { join } from 'node:path';
import type { DocAdapterKey } from '@rg/adapter-store';
import { DAPT_ADAPTER_ID, encodeDapt, type GroupOutcome, type Recipe } from '@rg/lora-trainer';
import { type EncodeFileOptions, withFileRun } from './encode-file.js';

export interface EncodeDaptHooks {
  /** A line for the user: a record trained partially or skipped, a base_weight initialised, the warm-up used. */
  onNote?: (text: string) => void;
  /** Before the first step: the examples and steps of the run, and the steps a checkpoint already holds. */
  onStart?: (info: { examples: number; passages: number; batches: number; resumedBatches: number; checkpoints: string }) => void;
  /** After each optimizer batch. */
  onBatch?: (loss: number) => void;
}

export interface EncodeDaptSummary {
  store: string;
  scope: Omit<DocAdapterKey, 'id'>;
  id: string;
  /** As recorded with the adapter. */
  recipe: Recipe;
  passages: number;
  status: GroupOutcome['status'];
  /** Why it failed (status failed). */
  error?: string;
  /** Examples trained on (from the stored adapter when it was skipped); null when unknown. */
  examples: number | null;
  /** Steps run now (0 when skipped). */
  steps: number;
  finalLoss: number | null;
  bytes: number | null;
  seconds: number;
}

/**
 * The continual-pretraining baseline (DAPT): one adapter on every trainable record of an augmented file together,
 * stored as DAPT_ADAPTER_ID beside the documents' adapters. A long run: its state is saved under the store's
 * `.checkpoints` about every minute, so an interrupted run goes on from there; a stored adapter for the same
 * records is skipped. `docsPerPass` does not apply (one adapter). Errors pass through as in encodeAugmentedFile.
 */
export async function encodeDaptFile(options: EncodeFileOptions, hooks: EncodeDaptHooks = {}): Promise<EncodeDaptSummary> {
  return withFileRun(options, hooks.onNote, { batchedAdapters: false }, async (records, encode, recipe) => {
    const checkpoints = { dir: join(encode.store.root, '.checkpoints') };
    let steps = 0;
    const t0 = performance.now();
    const outcome = await encodeDapt(
      records,
      encode,
      options.training,
      {
        onGroupStart: (_group, info) => hooks.onStart?.({ ...info, passages: records.length, checkpoints: checkpoints.dir }),
        onBatch: (b) => {
          steps++;
          hooks.onBatch?.(b.loss);
        },
      },
      checkpoints,
    );
    const entry = encode.store.get({ ...encode.scope, id: DAPT_ADAPTER_ID });
    const stored = entry?.trainingConfig.examples;
    return {
      store: encode.store.root,
      scope: encode.scope,
      id: DAPT_ADAPTER_ID,
      recipe,
      passages: records.length,
      status: outcome.status,
      ...(outcome.status === 'failed' ? { error: outcome.error } : {}),
      examples: outcome.status === 'trained' ? outcome.examples : typeof stored === 'number' ? stored : null,
      steps,
      finalLoss: outcome.status === 'trained' ? outcome.finalLoss : null,
      bytes: entry?.bytes ?? null,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
    };
  });
}
