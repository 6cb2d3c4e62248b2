import type { Ops } from './ops.js';

/**
 * Token embedding lookup: input_ids [B, S] → [B·S, H]. The table is frozen and no LoRA targets it,
 * so this primitive has no gradient rule: the backward pass stops at the first LoRA layer.
 */
export function embeddingForward(o: Ops, table: string, inputIds: string, hiddenSize: number): string {
  return o.reshape(o.g.op('Gather', [table, inputIds], { axis: 0 }), [-1, hiddenSize]);
}
