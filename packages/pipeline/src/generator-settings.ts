import { GENERATORS } from '@rg/augment';
import type { Flag } from '@rg/bench-kit';
import { WEIGHT_FORMATS } from '@rg/engine';

/**
 * The augmentation generator's settings as flags (@rg/augment GeneratorSettings): rg augment's, and the e2e table's,
 * which defaults to the template generator. One table, so the table can augment with any generator rg augment can.
 */
export const GENERATOR_FLAGS: readonly Flag[] = [
  { name: 'generator', kind: 'choice', value: '<name>', choices: GENERATORS, default: 'local', help: 'what writes the data' },
  { name: 'qa', kind: 'int', help: 'question/answer pairs per passage', default: 3 },
  {
    name: 'phrasings',
    kind: 'int',
    value: '<p>',
    help: 'template generator: p wordings of each passage (p - 1 more rewrites; each QA fact asked up to p ways)',
  },
  { name: 'concurrency', kind: 'int', value: '<c>', help: 'passages in flight (default: 4 for openai, 1 otherwise)' },
  {
    name: 'unit',
    kind: 'choice',
    value: '<unit>',
    choices: ['sentence', 'passage'],
    help: 'what one model call works on (default: sentence for local, passage for openai)',
  },
  {
    name: 'weights',
    kind: 'choice',
    value: '<format>',
    choices: WEIGHT_FORMATS,
    default: 'q4',
    help: 'local: projection weights, q4 (4-bit, faster), q8 (8-bit) or f32 (exact)',
  },
  {
    name: 'temperature',
    kind: 'nonnegative',
    value: '<t>',
    help: 'sampling temperature; 0 = greedy, retries then sample (default: 0 for sentence, 0.7 for passage)',
  },
  {
    name: 'max-attempts',
    kind: 'int',
    help: 'generator calls per task (sentence: per sentence) before giving up on it (default: 2 for sentence, 3 for passage)',
  },
  {
    name: 'llm-url',
    kind: 'string',
    value: '<url>',
    help: 'openai: base URL of an OpenAI-compatible API, e.g. http://localhost:8080/v1 (key from env RG_LLM_API_KEY)',
  },
  { name: 'llm-model', kind: 'string', value: '<name>', help: 'openai: model name sent to the API' },
  { name: 'llm-timeout', kind: 'number', value: '<seconds>', help: 'openai: timeout per request', default: 120 },
];
