import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ChatTemplate } from '../tokenizer/chat-template.js';
import { type Tokenizer, tokenizerFromFolder, tokenizerFromGguf } from '../tokenizer/tokenizer.js';
import type { ModelConfig, ModelWeights } from './config.js';
import { ModelFileError } from './errors.js';
import { ggufConfig, readGguf, readGgufWeights } from './gguf.js';
import { checkWeights, readHfConfig, readHfModel } from './hf.js';
import { defaultHome, ensureModel, KNOWN_MODELS, knownModelPath, type PullProgress, verifyKnownModelOnce } from './pull.js';

/** What a model spec resolved to. */
export interface ModelSource {
  kind: 'gguf' | 'hf';
  /** The .gguf file or the model folder. */
  path: string;
  /** The known model name, when the spec was one. */
  name?: string;
}

export interface LoadedModel {
  config: ModelConfig;
  weights: ModelWeights;
  tokenizer: Tokenizer;
  chatTemplate: ChatTemplate | null;
  source: ModelSource;
}

export interface ModelLoadOptions {
  /** RG_HOME (default: RG_HOME or ~/.cache/rg): where known models are pulled to. */
  home?: string;
  /** Pull a known model that is not there yet (default false: fail and say how to pull it). */
  pull?: boolean;
  onProgress?: (p: PullProgress) => void;
}

/**
 * Where a model spec points: a known name ('smollm2-135m-instruct'), a .gguf file, or a Hugging
 * Face folder (config.json + safetensors + tokenizer.json). Checks existence, reads nothing.
 */
export async function resolveModel(spec: string, options: ModelLoadOptions = {}): Promise<ModelSource> {
  const home = options.home ?? defaultHome();
  if (spec in KNOWN_MODELS) {
    const path = knownModelPath(spec, home);
    if (existsSync(path)) {
      // A flipped byte on disk would otherwise load as wrong weights: checked once per process.
      await verifyKnownModelOnce(spec, home);
      return { kind: 'gguf', path, name: spec };
    }
    if (!options.pull) throw new ModelFileError(path, `not pulled yet: run \`rg model pull ${spec}\``);
    return { kind: 'gguf', path: await ensureModel(spec, home, { onProgress: options.onProgress }), name: spec };
  }
  const path = resolve(spec);
  if (!existsSync(path)) {
    throw new ModelFileError(
      path,
      `no such file or folder (a model is a known name: ${Object.keys(KNOWN_MODELS).join(', ')}; a .gguf file; or a folder)`,
    );
  }
  if (statSync(path).isDirectory()) {
    if (!existsSync(join(path, 'config.json')))
      throw new ModelFileError(path, 'folder has no config.json (not a Hugging Face model folder)');
    return { kind: 'hf', path };
  }
  if (!path.endsWith('.gguf')) throw new ModelFileError(path, 'not a .gguf file or a model folder');
  return { kind: 'gguf', path };
}

/** Config only, without reading weights (for `rg model info`). */
export async function loadModelConfig(spec: string, options: ModelLoadOptions = {}): Promise<{ config: ModelConfig; source: ModelSource }> {
  const source = await resolveModel(spec, options);
  if (source.kind === 'gguf') return { config: ggufConfig(await readGguf(source.path)), source };
  return { config: readHfConfig(source.path), source };
}

/**
 * Load a model: config, fp32 weights by Hugging Face name (GGUF dequantized, Q/K rows in Hugging
 * Face order), tokenizer and chat template. Every file problem fails here, before anything runs.
 */
export async function loadModel(spec: string, options: ModelLoadOptions = {}): Promise<LoadedModel> {
  const source = await resolveModel(spec, options);
  let config: ModelConfig;
  let weights: ModelWeights;
  let tokenizer: Tokenizer;
  if (source.kind === 'gguf') {
    const file = await readGguf(source.path);
    config = ggufConfig(file);
    tokenizer = tokenizerFromGguf(source.path, file.metadata, config.eosTokenIds);
    weights = readGgufWeights(file, config);
    checkWeights(config, weights, source.path);
  } else {
    ({ config, weights } = readHfModel(source.path));
    tokenizer = tokenizerFromFolder(source.path, config.eosTokenIds);
  }
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new ModelFileError(source.path, `tokenizer has ${tokenizer.vocabSize} tokens, the model's vocabulary only ${config.vocabSize}`);
  }
  return { config, weights, tokenizer, chatTemplate: tokenizer.chatTemplate, source };
}
