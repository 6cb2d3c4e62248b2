import type { Collection } from '@rg/pipeline';

/**
 * What the HTTP layer serves: open collections by name and the model they share. The server never opens or loads
 * anything itself, so the routes can be exercised on any Collection (start.ts wires the real pipeline in).
 */
export interface ServedCollections {
  collections: Map<string, Collection>;
  /** Answers requests that name no collection, or name the model itself. */
  defaultCollection: string;
  /** The base model's name as configured (e.g. smollm2-135m-instruct): `model` may name it to mean the default collection. */
  modelName: string;
}

/** Limits and switches of the HTTP layer. */
export interface ServerOptions {
  /** Bearer key required on every route but /healthz; absent: no authentication. */
  apiKey?: string;
  /** Generations run at the same time (they share the CPU cores of one runtime). */
  concurrency: number;
  /** Requests that may wait for a generation slot; one more is answered 429. */
  maxQueue: number;
  /** From arrival to the last token, waiting included. */
  requestTimeoutMs: number;
  logLevel: LogLevel;
}

export const LOG_LEVELS = ['silent', 'error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_SERVER_OPTIONS: ServerOptions = {
  concurrency: 1,
  maxQueue: 16,
  requestTimeoutMs: 120_000,
  logLevel: 'warn',
};

export const MODEL_PREFIX = 'rg:';
