import { type LoraTarget, type ModelConfig, type ModelWeights, TrainingSession } from '@rg/engine';
import { type LoraAdapter, loraScale } from '@rg/lora';
import { trainAdapter, trainedAdapter } from './trainer.js';

/** One example whose loss gradient is taken: `promptTokens` leading ids get no loss (PEFT's -100 labels). */
export interface GradientExample {
  ids: number[];
  promptTokens?: number;
}

export interface ExampleGradient {
  /** The gradient of the mean token loss with respect to A and B, in the adapter's layout (PEFT tensor names). */
  gradient: LoraAdapter;
  loss: number;
  ms: number;
}

/** An example the model cannot score: a token id outside the vocabulary, or no token to predict. */
export class GradientExampleError extends Error {
  override name = 'GradientExampleError';
}

/**
 * The loss gradient of one example at an adapter (`at`, e.g. a PEFT folder read with readPeftAdapter): what to compare
 * with PyTorch + PEFT's `loss.backward()` at the same adapter, tensor by tensor. The session is the trainer's own
 * (mode 'gradient': no optimizer step), built for the adapter's target modules at its PEFT scale (rsLoRA-aware).
 */
export async function exampleGradient(
  model: { config: ModelConfig; weights: ModelWeights },
  at: LoraAdapter,
  example: GradientExample,
  options: { threads?: number } = {},
): Promise<ExampleGradient> {
  const { ids } = example;
  const promptTokens = example.promptTokens ?? 0;
  const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= model.config.vocabSize);
  if (bad !== undefined) throw new GradientExampleError(`token id ${bad} is outside the vocabulary (size ${model.config.vocabSize})`);
  // The first scored position predicts ids[max(promptTokens, 1)]: without a prompt the first id has nothing before it.
  if (ids.length - Math.max(promptTokens, 1) < 1) throw new GradientExampleError('the example has no token to predict');
  const labels = ids.map((id, i) => (i < promptTokens ? -100 : id));
  const targets = at.config.targetModules as LoraTarget[];
  const session = await TrainingSession.create(model.config, model.weights, { targets, threads: options.threads });
  try {
    const r = await trainAdapter(session, at.modules, [{ inputIds: ids, labels }], {
      mode: 'gradient',
      scale: loraScale(at.config),
      lr: 0,
      epochs: 1,
      batchSize: 1,
    });
    return { gradient: trainedAdapter(at, r), loss: r.losses[0], ms: r.totalMs };
  } finally {
    await session.release();
  }
}
