export {
  checkMetaOutput,
  checkQaOutput,
  checkQuestion,
  checkRewrite,
  type QaCheckOptions,
  type QaCheckResult,
  type RewriteCheckOptions,
} from './checks.js';
export { AugmentOutput, type PassageInput, readAugmented, readPassages, writeJsonAtomic } from './files.js';
export {
  type Augmenter,
  type AugmentOptions,
  type ChatMessage,
  FatalGeneratorError,
  type GenerateOptions,
  type Passage,
  type TextGenerator,
} from './generator.js';
export { LocalGenerator, type LocalGeneratorOptions } from './generators/local.js';
export { HttpGeneratorError, OpenAiGenerator, type OpenAiGeneratorOptions } from './generators/openai.js';
export { type ExtractedJson, type ExtractOptions, extractJson, type JsonValue } from './json-repair.js';
export { type AugmentUnit, LlmAugmenter, type LlmAugmenterOptions } from './llm-augmenter.js';
export {
  type AugmenterSpec,
  defaultConcurrency,
  GENERATORS,
  type GeneratorSettings,
  GeneratorSettingsError,
  type OpenAugmenterOptions,
  openAugmenter,
  openGenerator,
} from './open-augmenter.js';
export { isPragLayout, type PragItem, passagesFromPrag, pragPassageId, recordsFromPrag, type ToPragOptions, toPragItems } from './prag.js';
export {
  metaMessages,
  PROMPT_VERSION,
  qaMessages,
  questionMessages,
  rewriteMessages,
  SENTENCE_PROMPT_VERSION,
  sentenceRewriteMessages,
} from './prompts.js';
export {
  AugmentDataError,
  type AugmentDiagnostics,
  type AugmentedRecord,
  type AugmentStatus,
  type QaPair,
  validateAugmentedRecord,
} from './record.js';
export { type AugmentRunOptions, type AugmentRunSummary, runAugment } from './run.js';
export { type RetrievalFields, retrievalFields } from './tags.js';
export { TEMPLATE_VERSION, TemplateAugmenter, type TemplateAugmenterOptions } from './template.js';
export { isGrounded, normalizeText, splitSentences } from './text.js';
