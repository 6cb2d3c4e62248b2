export { BERT_IO, type BertConfig, bertConfigFromJson, buildBertEncoderGraph } from './encoder/bert.js';
export { SentenceEncoder, type SentenceEncoderOptions } from './encoder/encoder.js';
export { ensureSentenceEncoder, MINILM, sentenceEncoderDir } from './encoder/pull.js';
export {
  type BatchGenerateOptions,
  DecodeBatcher,
  type DecodeBatcherOptions,
  type DecodeBatcherStats,
} from './generate/batcher.js';
export {
  continuationLogLikelihood,
  type GenerateOptions,
  type GenerateResult,
  generate,
  nextTokenLogits,
  SequenceDecoder,
  samplingProcessors,
} from './generate/generate.js';
export {
  argmax,
  type LogitsProcessor,
  logProbability,
  sampleIndex,
  softmax,
  temperatureProcessor,
  topKProcessor,
  topPProcessor,
} from './generate/logits-process.js';
export { seededRandom } from './generate/prng.js';
export { type Dim, DType, type DTypeName, GraphBuilder, type TensorInit } from './graph/builder.js';
export { buildLlamaGraph, io as llamaGraphIO, type LlamaGraph, type LlamaGraphOptions } from './graph/llama.js';
export type { LinearWeight, LoraValues } from './graph/ops.js';
export { ropeInverseFrequencies } from './graph/rope.js';
export {
  LORA_TARGETS,
  type LoraTarget,
  type ModelConfig,
  type ModelWeights,
  type Tensor32,
  targetParent,
  targetShape,
} from './model/config.js';
export { ModelFileError } from './model/errors.js';
export {
  type GgufFile,
  type GgufTensorEntry,
  ggufConfig,
  huggingFaceName,
  type QuantizedWeight,
  readGguf,
  readGgufQuantized,
  readGgufWeights,
} from './model/gguf.js';
export { checkWeights, expectedTensors, HF_ARCHITECTURES, hfConfig, readHfConfig, readHfModel } from './model/hf.js';
export { modelFingerprint, modelKeyName } from './model/identity.js';
export {
  type LoadedModel,
  loadModel,
  loadModelConfig,
  type ModelLoadOptions,
  type ModelSource,
  resolveModel,
} from './model/load.js';
export {
  DEFAULT_MODEL,
  defaultHome,
  ensureModel,
  KNOWN_MODELS,
  type KnownModel,
  knownModel,
  knownModelPath,
  type PullOptions,
  type PullProgress,
  type PullResult,
  pullModel,
} from './model/pull.js';
export { dequantize, GGML_TYPES, type GgmlTypeName, ggmlBytes, ggmlTypeName } from './model/quants.js';
export { referenceForward } from './reference/llama.js';
export { randomLora } from './reference/random-lora.js';
export { AdapterMismatchError, checkAdapters } from './runtime/adapter-feeds.js';
export {
  type AdapterSet,
  type BatchAdapterSet,
  type BatchedCausalLM,
  type BatchForwardRequest,
  type BatchForwardResult,
  type BatchKvCache,
  type CausalLM,
  type ForwardRequest,
  type ForwardResult,
  type KvCache,
  type LoadOptions,
  OrtCausalLM,
} from './runtime/causal-lm.js';
export { type QuantCache, quantCacheFor } from './runtime/quant-cache.js';
export { createSession, type SessionOptions } from './runtime/session.js';
export { blocksQ4, blocksQ8, WEIGHT_FORMATS, type WeightFormat } from './runtime/weights.js';
export { type ChatMessage, ChatTemplate, type ChatTemplateOptions } from './tokenizer/chat-template.js';
export { type DecodeOptions, type EncodeOptions, Tokenizer, tokenizerFromFolder, tokenizerFromGguf } from './tokenizer/tokenizer.js';
export { DISTILL_IO } from './train/distill-loss.js';
export {
  buildTrainingGraph,
  loraGradName,
  loraInputName,
  TRAIN_IO,
  type TrainingGraph,
  type TrainingGraphOptions,
  type TrainingModule,
} from './train/graph.js';
export type { FloatType } from './train/ops.js';
export {
  type AdaptersStepResult,
  type LoraParams,
  type StepResult,
  type TeacherBatch,
  type TrainingBatch,
  TrainingSession,
  type TrainingSessionOptions,
} from './train/session.js';
export { randomLlamaWeights, tinyLlamaConfig } from './train/tiny-model.js';
