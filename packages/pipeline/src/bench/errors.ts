/** An input a benchmark cannot measure on (e.g. no question whose gold document is in the store): the caller's to fix. */
export class BenchInputError extends Error {
  override name = 'BenchInputError';
}
