import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WEIGHT_FORMATS, type WeightFormat } from '@rg/engine';
import { DEFAULT_BATCH } from './batching.js';
import { DEFAULT_SERVER_OPTIONS, LOG_LEVELS, type LogLevel } from './deps.js';
import { DEFAULT_PORT, type StartOptions } from './start.js';

export class ArgsError extends Error {
  override name = 'ArgsError';
}

export const USAGE = `usage: rg-server [--collection DIR]... [--host 127.0.0.1] [--port ${DEFAULT_PORT}] [--model NAME|FILE|DIR]
                 [--home DIR] [--threads N] [--batch N] [--worker] [--weights f32|q4|q8] [--concurrency N] [--max-queue N] [--timeout SECONDS] [--log-level LEVEL]
                 [--training-pause SECONDS] [--no-warm]
The first --collection is the default one (none: <home>/collections/default, created if missing).
--batch N (default ${DEFAULT_BATCH}): up to N generations decode together, each with its own adapters; --concurrency defaults to it.
--worker: decode in a worker thread (keeps decoding's garbage collections off the thread that serves requests; a second copy of the weights).
--weights FORMAT (default f32, exact): the answering model's projection weights; q8 (8-bit blocks) decodes ~3x faster with logits within ~2% of f32's range, q4 (4-bit) is smaller and a little further off. Training always uses f32.
--training-pause SECONDS (default 10; 0: never): an added document's training waits between its steps while answers are in flight, at most this long at a time.
--no-warm: do not read the collections' adapters into memory at start (by default they are, up to 90% of the adapter cache, so that no request's first use of an adapter reads it from disk).
Environment: RG_MODEL, RG_HOME, RG_THREADS, RG_SERVER_API_KEY (Bearer key; never on the command line, where ps shows it).`;

function positive(name: string, raw: string | undefined, fallback: number, allowZero = false): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || (!allowZero && n < 1))
    throw new ArgsError(`${name}: expected a ${allowZero ? 'non-negative' : 'positive'} integer, got "${raw}"`);
  return n;
}

/** rg-server's command line (and RG_* environment) -> start options. */
export function parseServerArgs(argv: string[], env: NodeJS.ProcessEnv): StartOptions | 'help' {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        collection: { type: 'string', multiple: true },
        host: { type: 'string' },
        port: { type: 'string' },
        model: { type: 'string' },
        home: { type: 'string' },
        threads: { type: 'string' },
        batch: { type: 'string' },
        worker: { type: 'boolean' },
        weights: { type: 'string' },
        concurrency: { type: 'string' },
        'max-queue': { type: 'string' },
        timeout: { type: 'string' },
        'log-level': { type: 'string' },
        'training-pause': { type: 'string' },
        'no-warm': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new ArgsError((e as Error).message);
  }
  if (values.help) return 'help';
  const logLevel = (values['log-level'] as string | undefined) ?? DEFAULT_SERVER_OPTIONS.logLevel;
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    throw new ArgsError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const port = positive('--port', values.port as string | undefined, DEFAULT_PORT, true);
  if (port > 65535) throw new ArgsError(`--port: expected 0..65535, got ${port}`);
  const batch = positive('--batch', values.batch as string | undefined, DEFAULT_BATCH);
  const weights = (values.weights as string | undefined) ?? 'f32';
  if (!(WEIGHT_FORMATS as readonly string[]).includes(weights))
    throw new ArgsError(`--weights: expected one of ${WEIGHT_FORMATS.join(', ')}, got "${weights}"`);
  return {
    collections: (values.collection as string[] | undefined) ?? [],
    host: (values.host as string | undefined) ?? '127.0.0.1',
    port,
    model: (values.model as string | undefined) ?? (env.RG_MODEL || 'smollm2-135m-instruct'),
    home: (values.home as string | undefined) ?? (env.RG_HOME || join(homedir(), '.cache', 'rg')),
    threads: positive('--threads', (values.threads as string | undefined) ?? env.RG_THREADS, 2),
    batch,
    worker: (values.worker as boolean | undefined) ?? false,
    weightFormat: weights as WeightFormat,
    // A batch fills only with as many generations running at once.
    concurrency: positive('--concurrency', values.concurrency as string | undefined, batch),
    maxQueue: positive('--max-queue', values['max-queue'] as string | undefined, DEFAULT_SERVER_OPTIONS.maxQueue, true),
    requestTimeoutMs: positive('--timeout', values.timeout as string | undefined, DEFAULT_SERVER_OPTIONS.requestTimeoutMs / 1000) * 1000,
    logLevel: logLevel as LogLevel,
    trainingMaxPauseMs: positive('--training-pause', values['training-pause'] as string | undefined, 10, true) * 1000,
    warmAdapters: values['no-warm'] !== true,
    apiKey: env.RG_SERVER_API_KEY || undefined,
  };
}
