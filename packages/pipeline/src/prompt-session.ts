import { resolve } from 'node:path';
import { baseModelWarning, findNonFinite, findShapeMismatch } from '@rg/adapter-store';
import {
  AdapterMismatchError,
  type AdapterSet,
  checkAdapters,
  type LoadedModel,
  type LoraTarget,
  loadModel,
  OrtCausalLM,
  quantCacheFor,
  type WeightFormat,
} from '@rg/engine';
import { composeCat, type LoraAdapter, readPeftAdapter } from '@rg/lora';

/**
 * An input of a prompt session that cannot be used, naming it as the caller spells it (`adapter`, `prompt`, `ids`,
 * `chat`, `maxNewTokens`), so a CLI can name its flag and an HTTP layer its field.
 */
export class PromptInputError extends Error {
  override name = 'PromptInputError';
  constructor(
    readonly field: 'adapter' | 'prompt' | 'ids' | 'chat' | 'maxNewTokens',
    /** What is wrong, without the field. */
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** A PEFT adapter folder read from disk. */
export interface AdapterFolder {
  dir: string;
  adapter: LoraAdapter;
}

/** The prompt: text (optionally as one user turn of the chat template) or token ids. */
export type PromptInput = { text: string; chat?: boolean } | { ids: number[] };

export interface PromptSessionOptions {
  /** A known model name, .gguf file or Hugging Face folder; a known name is pulled on first use. */
  model: string;
  home: string;
  threads?: number;
  /** PEFT adapter folders, concatenated along the rank axis as PEFT's "cat" does (relative to `cwd`). */
  adapterDirs?: string[];
  cwd?: string;
  weightFormat?: WeightFormat;
  prompt: PromptInput;
  /** A folder whose adapter_config.json names another base model than the one loaded. */
  onWarning?: (message: string) => void;
}

/** A model ready to run one prompt with its adapters: what `rg generate` and `rg model logits` run. */
export interface PromptSession {
  model: LoadedModel;
  lm: OrtCausalLM;
  adapters: AdapterSet | null;
  promptIds: number[];
  dispose(): Promise<void>;
}

/**
 * Read adapter folders, refusing non-finite weights (they give NaN logits and empty answers otherwise), each error
 * naming the folder and module.
 */
export function readAdapterFolders(dirs: string[], cwd = process.cwd()): AdapterFolder[] {
  return dirs.map((d) => {
    const dir = resolve(cwd, d);
    const adapter = readPeftAdapter(dir);
    const bad = findNonFinite(adapter);
    if (bad) throw new PromptInputError('adapter', `${dir}: ${bad.message}`);
    return { dir, adapter };
  });
}

/**
 * Check each folder against the loaded model before they are concatenated (after which an error could no longer say
 * which folder is wrong), and warn when PEFT's base model names another model.
 */
export function checkAdapterFolders(folders: AdapterFolder[], model: LoadedModel, modelName: string, warn?: (m: string) => void): void {
  for (const { dir, adapter } of folders) {
    const misfit = findShapeMismatch(adapter, model.config);
    if (misfit) throw new PromptInputError('adapter', `${dir}: ${misfit.message}`);
    const warning = baseModelWarning(adapter, model.source.name ?? modelName, `adapter ${dir}`);
    if (warning) warn?.(warning);
  }
}

/** The prompt's token ids: checked against the vocabulary, the chat template applied when asked. */
export function encodePrompt(model: LoadedModel, prompt: PromptInput, modelName = model.source.name ?? 'the model'): number[] {
  let ids: number[];
  if ('ids' in prompt) {
    const bad = prompt.ids.find((id) => !Number.isInteger(id) || id < 0 || id >= model.config.vocabSize);
    if (bad !== undefined)
      throw new PromptInputError('ids', `token id ${bad} is outside the vocabulary (0..${model.config.vocabSize - 1})`);
    ids = prompt.ids;
  } else if (prompt.chat) {
    if (!model.tokenizer.chatTemplate) throw new PromptInputError('chat', `model ${modelName} has no chat template`);
    ids = model.tokenizer.encodeChat([{ role: 'user', content: prompt.text }]);
  } else {
    ids = model.tokenizer.encode(prompt.text);
  }
  if (ids.length === 0) throw new PromptInputError('prompt', 'the prompt encodes to no tokens');
  return ids;
}

/**
 * Load the model (pulling a known one on first use), the adapter folders checked against it and concatenated, a
 * session whose graph has LoRA inputs only where there are adapters, and the prompt's ids. The folders are read and
 * checked before the model's weights are loaded, so a bad folder fails fast.
 */
export async function openPromptSession(options: PromptSessionOptions): Promise<PromptSession> {
  const folders = readAdapterFolders(options.adapterDirs ?? [], options.cwd);
  const model = await loadModel(options.model, { home: options.home, pull: true });
  checkAdapterFolders(folders, model, options.model, options.onWarning);
  const promptIds = encodePrompt(model, options.prompt, options.model);
  const lora = folders.length === 0 ? null : composeCat(folders.map((f) => ({ adapter: f.adapter, weight: 1 })));
  const loraTargets = (lora?.targets ?? []) as LoraTarget[];
  try {
    if (lora) checkAdapters(model.config, loraTargets, lora);
  } catch (e) {
    if (e instanceof AdapterMismatchError) throw new PromptInputError('adapter', e.message);
    throw e;
  }
  const lm = await OrtCausalLM.load(model.config, model.weights, {
    threads: options.threads,
    loraTargets,
    weightFormat: options.weightFormat ?? 'f32',
    quantCache: quantCacheFor(model.source, options.home),
  });
  try {
    const adapters = lora ? await lm.prepareAdapters(lora) : null;
    return { model, lm, adapters, promptIds, dispose: () => lm.dispose() };
  } catch (e) {
    await lm.dispose();
    throw e;
  }
}

/**
 * How many new tokens fit the model's context after the prompt: positions past the context are outside what the model
 * was trained on, and the KV cache would grow without bound. `capped` when fewer than asked; a prompt that already
 * fills the context is an error.
 */
export function contextRoom(maxNewTokens: number, promptTokens: number, context: number): { tokens: number; capped: boolean } {
  const room = context - promptTokens;
  if (room <= 0)
    throw new PromptInputError('prompt', `the prompt has ${promptTokens} tokens, the model's context holds ${context}: shorten it`);
  return maxNewTokens <= room ? { tokens: maxNewTokens, capped: false } : { tokens: room, capped: true };
}
