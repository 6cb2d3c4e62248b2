import { COMPOSE_MODES } from '@rg/inference';
import { COLLECTION_METHODS } from '@rg/pipeline';

/**
 * JSON schemas of the request bodies, checked by Fastify (Ajv) before a route runs; a failure is answered 400 naming
 * the field (see validation-error.ts). Unknown top-level fields are accepted, as OpenAI clients send fields this
 * server has no use for (user, metadata, store); the `rg` object is closed, so a misspelt knob is an error, not a no-op.
 */

/** Bounds a request cannot exceed whatever the collection's defaults are. */
export const LIMITS = { k: 16, adapters: 16, maxTokens: 4096 } as const;

const rgExtension = {
  type: 'object',
  additionalProperties: false,
  properties: {
    method: { type: 'string', enum: COLLECTION_METHODS },
    k: { type: 'integer', minimum: 1, maximum: LIMITS.k },
    compose: { type: 'string', enum: COMPOSE_MODES },
    backend: { type: 'string', minLength: 1 },
    adapters: {
      type: 'array',
      maxItems: LIMITS.adapters,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id'],
        properties: { id: { type: 'string', minLength: 1 }, weight: { type: 'number' } },
      },
    },
  },
} as const;

/** Generation fields shared by both completion endpoints. */
const generation = {
  model: { type: 'string' },
  stream: { type: ['boolean', 'null'] },
  stream_options: { type: ['object', 'null'], properties: { include_usage: { type: 'boolean' } } },
  max_tokens: { type: ['integer', 'null'], minimum: 1, maximum: LIMITS.maxTokens },
  temperature: { type: ['number', 'null'], minimum: 0, maximum: 2 },
  seed: { type: ['integer', 'null'] },
  n: { type: ['integer', 'null'], minimum: 1 },
  stop: { type: ['string', 'array', 'null'] },
  rg: rgExtension,
} as const;

export const chatCompletionBody = {
  type: 'object',
  required: ['messages'],
  properties: {
    ...generation,
    max_completion_tokens: { type: ['integer', 'null'], minimum: 1, maximum: LIMITS.maxTokens },
    messages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['role', 'content'],
        properties: {
          role: { type: 'string', enum: ['system', 'developer', 'user', 'assistant'] },
          content: {
            type: ['string', 'array'],
            items: {
              type: 'object',
              required: ['type', 'text'],
              properties: { type: { type: 'string', enum: ['text'] }, text: { type: 'string' } },
            },
          },
          name: { type: 'string' },
        },
      },
    },
  },
} as const;

export const completionBody = {
  type: 'object',
  required: ['prompt'],
  properties: {
    ...generation,
    prompt: { type: ['string', 'array'], items: { type: 'string' }, minItems: 1, maxItems: 1 },
    echo: { type: ['boolean', 'null'] },
    best_of: { type: ['integer', 'null'], minimum: 1 },
    suffix: { type: ['string', 'null'] },
  },
} as const;

export const documentBody = {
  type: 'object',
  required: ['text'],
  additionalProperties: false,
  properties: {
    // Some non-space character: an all-blank text would make a document with nothing to index or learn.
    text: { type: 'string', pattern: '\\S' },
    title: { type: 'string' },
    id: { type: 'string', pattern: '\\S', maxLength: 200 },
    metadata: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    collection: { type: 'string', minLength: 1 },
  },
} as const;

export const collectionQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { collection: { type: 'string', minLength: 1 } },
} as const;

/** Most documents one GET /v1/documents answers. */
export const MAX_DOCUMENT_PAGE = 1000;
export const DEFAULT_DOCUMENT_PAGE = 100;

/** GET /v1/documents: a page by id. Query values are strings (no coercion here): `limit` is checked by its digits. */
export const documentListQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    collection: { type: 'string', minLength: 1 },
    limit: { type: 'string', pattern: '^[1-9][0-9]*$' },
    after: { type: 'string', minLength: 1 },
  },
} as const;

export interface DocumentListQuery {
  collection?: string;
  limit?: string;
  after?: string;
}

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1 } },
} as const;

export interface RgExtension {
  method?: (typeof COLLECTION_METHODS)[number];
  k?: number;
  compose?: (typeof COMPOSE_MODES)[number];
  backend?: string;
  adapters?: Array<{ id: string; weight?: number }>;
}

interface GenerationFields {
  model?: string;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  max_tokens?: number | null;
  temperature?: number | null;
  seed?: number | null;
  n?: number | null;
  stop?: string | string[] | null;
  rg?: RgExtension;
  /** Not supported; present only to be refused by name. */
  tools?: unknown;
  tool_choice?: unknown;
  functions?: unknown;
  function_call?: unknown;
  logprobs?: unknown;
  top_logprobs?: unknown;
  response_format?: unknown;
}

export type ContentPart = { type: 'text'; text: string };

export interface ChatCompletionBody extends GenerationFields {
  messages: Array<{ role: 'system' | 'developer' | 'user' | 'assistant'; content: string | ContentPart[]; name?: string }>;
  max_completion_tokens?: number | null;
}

export interface CompletionBody extends GenerationFields {
  prompt: string | string[];
  echo?: boolean | null;
  best_of?: number | null;
  suffix?: string | null;
}

export interface DocumentBody {
  text: string;
  title?: string;
  id?: string;
  metadata?: Record<string, string | number | boolean>;
  collection?: string;
}
