import type { LoraWeights } from '@rg/lora';
import type { AnswerModel, ChatMessage } from './model.js';

export interface LabelChoice {
  label: string;
  /** Log-likelihood of every label, in the order given. */
  logLikelihoods: number[];
}

/**
 * Constrained answer for a classification question: the label whose tokens are most likely as the assistant's
 * reply (sum of token log-probabilities), so a small model is scored on what it knows rather than on whether its
 * free text parses. Ties go to the earlier label.
 */
export async function chooseLabel(
  model: AnswerModel,
  messages: ChatMessage[],
  labels: string[],
  adapters: LoraWeights | null,
): Promise<LabelChoice> {
  if (labels.length === 0) throw new Error('chooseLabel: no labels to choose from');
  const logLikelihoods = await model.continuationLogLikelihoods(messages, labels, { adapters });
  if (logLikelihoods.length !== labels.length)
    throw new Error(`chooseLabel: ${logLikelihoods.length} log-likelihoods for ${labels.length} labels`);
  let best = 0;
  for (let i = 1; i < labels.length; i++) if (logLikelihoods[i] > logLikelihoods[best]) best = i;
  return { label: labels[best], logLikelihoods };
}
