/**
 * The engine's own model (default SmolLM2-135M-Instruct): the conversation rendered with the model's chat template,
 * generated on onnxruntime with a seeded sampler, decoded without special tokens.
 */
import { DEFAULT_MODEL, generate, type LoadedModel, loadModel, OrtCausalLM, type WeightFormat } from '@rg/engine';
import { type ChatMessage, FatalGeneratorError, type GenerateOptions, type TextGenerator } from '../generator.js';

export interface LocalGeneratorOptions {
  /** Known model name, .gguf file or Hugging Face folder (default smollm2-135m-instruct). */
  model?: string;
  /** RG_HOME, where known models are pulled to. */
  home?: string;
  /** Pull a known model that is missing (default false). */
  pull?: boolean;
  threads?: number;
  /**
   * 'q4' (default: 4-bit MatMulNBits, ~2-3x faster decode; greedy output matched fp32 transformers on the engine's
   * benchmark) or 'f32' (exact).
   */
  weightFormat?: WeightFormat;
  /** Top-k when sampling (default 50, as the method's augmentation used). */
  topK?: number;
}

export class LocalGenerator implements TextGenerator {
  readonly id: string;
  /** Generation is sequential on one session: calls queue here rather than interleave their KV caches. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly model: LoadedModel,
    private readonly lm: OrtCausalLM,
    private readonly topK: number,
    name: string,
  ) {
    this.id = `local:${name}`;
  }

  static async load(options: LocalGeneratorOptions = {}): Promise<LocalGenerator> {
    const spec = options.model ?? DEFAULT_MODEL;
    let model: LoadedModel;
    try {
      model = await loadModel(spec, { home: options.home, pull: options.pull });
    } catch (e) {
      throw new FatalGeneratorError((e as Error).message);
    }
    if (!model.chatTemplate)
      throw new FatalGeneratorError(`${model.source.path}: the model has no chat template; augmentation needs an instruct model`);
    const lm = await OrtCausalLM.load(model.config, model.weights, {
      threads: options.threads,
      weightFormat: options.weightFormat ?? 'q4',
    });
    const name = model.source.name ?? model.source.path.split(/[\\/]/).pop() ?? spec;
    return new LocalGenerator(model, lm, options.topK ?? 50, name);
  }

  generate(messages: ChatMessage[], options: GenerateOptions = {}): Promise<string> {
    const run = this.queue.then(async () => {
      options.signal?.throwIfAborted();
      const ids = this.model.tokenizer.encodeChat(messages);
      const temperature = options.temperature ?? 0;
      const out = await generate(this.lm, ids, {
        maxNewTokens: options.maxTokens ?? 256,
        temperature,
        topK: temperature > 0 ? this.topK : undefined,
        seed: options.seed ?? 0,
        stopStrings: options.stop,
        decode: (tokens) => this.model.tokenizer.decode(tokens, { skipSpecialTokens: true }),
      });
      return (out.text ?? '').trim();
    });
    this.queue = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.lm.dispose();
  }
}
