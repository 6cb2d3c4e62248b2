import type { TrainingBatch } from '@rg/engine';

/** One training sequence: the tokens and, per token, the id to predict there (-100 = no loss), as transformers' labels. */
export interface TrainingExample {
  inputIds: number[];
  labels: number[];
}

export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Right-pads examples to the longest one: padding has attention 0 and label -100, so it changes nothing. */
export function collate(examples: readonly TrainingExample[], padId = 0): TrainingBatch {
  const seq = Math.max(...examples.map((e) => e.inputIds.length));
  const n = examples.length * seq;
  const inputIds = new Array<number>(n).fill(padId);
  const attentionMask = new Array<number>(n).fill(0);
  const labels = new Array<number>(n).fill(-100);
  examples.forEach((e, row) => {
    if (e.labels.length !== e.inputIds.length)
      throw new Error(`training example ${row}: ${e.inputIds.length} ids but ${e.labels.length} labels`);
    for (let i = 0; i < e.inputIds.length; i++) {
      inputIds[row * seq + i] = e.inputIds[i];
      attentionMask[row * seq + i] = 1;
      labels[row * seq + i] = e.labels[i];
    }
  });
  return { batch: examples.length, seq, inputIds, attentionMask, labels };
}

/** Number of tokens the loss is taken over (labels are shifted by one inside the loss). */
export function scoredTokens(e: TrainingExample): number {
  return e.labels.slice(1).filter((l) => l !== -100).length;
}
