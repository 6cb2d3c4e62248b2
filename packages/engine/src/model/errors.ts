/** A model file (GGUF, safetensors, config.json, tokenizer) that rg cannot use; the message names the file and the problem. */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}
