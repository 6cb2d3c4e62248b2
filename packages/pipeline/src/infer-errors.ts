/**
 * What runInference cannot start with and the caller can fix: a store that is missing or not one, a method without
 * what it needs, no adapters of the asked shape, a warm-up that is missing or was trained on the questions.
 */
export class InferenceInputError extends Error {
  override name = 'InferenceInputError';
}
