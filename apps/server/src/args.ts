import { parseArgs } from 'node:util';
import { type Flag, FlagError, type FlagValues, flagsUsage, parseArgsOptions, parseFlags } from '@rg/bench-kit';
import { WEIGHT_FORMATS, type WeightFormat } from '@rg/engine';
import { ConfigError, loadConfig } from '@rg/pipeline';
import { DEFAULT_BATCH } from './batching.js';
import { DEFAULT_SERVER_OPTIONS, LOG_LEVELS, type LogLevel } from './deps.js';
import { DEFAULT_PORT, type StartOptions } from './start.js';

export class ArgsError extends Error {
  override name = 'ArgsError';
}

/** The server's flags, declared once: rg-server parses them with parseArgs, `rg serve` with commander. */
export const SERVER_FLAGS: readonly Flag[] = [
  {
    name: 'collection',
    kind: 'string',
    value: '<dir>',
    repeatable: true,
    help: 'collection folder, repeatable; the first is the default (none: <home>/collections/default); created if missing',
  },
  { name: 'host', kind: 'string', value: '<host>', help: 'address to listen on', default: '127.0.0.1' },
  { name: 'port', kind: 'count', help: 'port (0: any free one)', default: DEFAULT_PORT },
  {
    name: 'batch',
    kind: 'int',
    help: 'generations decoded together, each row with its own adapters; 1: each decodes alone',
    default: DEFAULT_BATCH,
  },
  {
    name: 'worker',
    kind: 'switch',
    help: 'decode in a worker thread (keeps its garbage collections off the thread that serves requests; a second copy of the weights)',
  },
  {
    name: 'weights',
    kind: 'choice',
    value: '<format>',
    choices: WEIGHT_FORMATS,
    default: 'f32',
    help: "the answering model's projection weights: f32 (exact), q8 (8-bit blocks: ~3x faster decoding, logits within ~3% of f32's range) or q4; training always uses f32",
  },
  { name: 'concurrency', kind: 'int', help: 'generations at the same time (default: --batch, so that a batch can fill)' },
  {
    name: 'max-queue',
    kind: 'count',
    help: 'requests that may wait for a generation; one more is answered 429',
    default: DEFAULT_SERVER_OPTIONS.maxQueue,
  },
  {
    name: 'timeout',
    kind: 'int',
    value: '<seconds>',
    help: 'per request, waiting included',
    default: DEFAULT_SERVER_OPTIONS.requestTimeoutMs / 1000,
  },
  {
    name: 'training-pause',
    kind: 'count',
    value: '<seconds>',
    help: "an added document's training waits between its steps while answers are in flight, at most this long at a time (0: never)",
    default: 10,
  },
  {
    name: 'no-warm',
    kind: 'switch',
    help: "do not read the collections' adapters into memory at start (by default up to 90% of the adapter cache, so that no request's first use of an adapter reads it from disk)",
  },
  {
    name: 'log-level',
    kind: 'choice',
    value: '<level>',
    choices: LOG_LEVELS,
    default: DEFAULT_SERVER_OPTIONS.logLevel,
    help: 'what the server logs',
  },
];

/** rg-server's own: `rg serve` takes these as rg's global flags. */
const SETTINGS_FLAGS: readonly Flag[] = [
  { name: 'model', kind: 'string', value: '<name|file|dir>', help: 'model (default smollm2-135m-instruct, pulled on first use)' },
  { name: 'home', kind: 'string', value: '<dir>', help: 'where models and caches live (default ~/.cache/rg)' },
  { name: 'threads', kind: 'int', help: 'onnxruntime threads (default 2)' },
];

export const USAGE = `usage: rg-server [flags]
${flagsUsage([...SERVER_FLAGS, ...SETTINGS_FLAGS])}
Model, home and threads as rg's: the flag, else RG_MODEL, RG_HOME, RG_THREADS, else ./rg.config.json, else the defaults.
Environment: RG_SERVER_API_KEY (Bearer key; never on the command line, where ps shows it).`;

/** The server's flags (parsed by parseFlags over SERVER_FLAGS) and rg's settings -> start options. */
export function startOptions(
  values: FlagValues,
  config: { model: string; home: string; threads: number },
  apiKey: string | undefined,
): StartOptions {
  const get = <T>(name: string) => values.get(name) as T;
  const port = get<number>('port');
  if (port > 65535) throw new FlagError(`--port: expected 0..65535, got ${port}`);
  const batch = get<number>('batch');
  return {
    collections: get<string[]>('collection'),
    host: get<string>('host'),
    port,
    model: config.model,
    home: config.home,
    threads: config.threads,
    batch,
    worker: get<boolean>('worker'),
    weightFormat: get<WeightFormat>('weights'),
    // A batch fills only with as many generations running at once.
    concurrency: get<number | undefined>('concurrency') ?? batch,
    maxQueue: get<number>('max-queue'),
    requestTimeoutMs: get<number>('timeout') * 1000,
    logLevel: get<LogLevel>('log-level'),
    trainingMaxPauseMs: get<number>('training-pause') * 1000,
    warmAdapters: !get<boolean>('no-warm'),
    apiKey: apiKey || undefined,
  };
}

/** rg-server's command line (and RG_* environment, and ./rg.config.json as rg reads them) -> start options. */
export function parseServerArgs(argv: string[], env: NodeJS.ProcessEnv, cwd = process.cwd()): StartOptions | 'help' {
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: { ...parseArgsOptions([...SERVER_FLAGS, ...SETTINGS_FLAGS]), help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) return 'help';
    const settings = parseFlags(SETTINGS_FLAGS, values, { cwd, root: cwd });
    const flags = { model: settings.get('model'), home: settings.get('home'), threads: settings.get('threads') };
    return startOptions(parseFlags(SERVER_FLAGS, values, { cwd, root: cwd }), loadConfig({ flags, env, cwd }), env.RG_SERVER_API_KEY);
  } catch (e) {
    // parseArgs's own errors (an unknown flag, a missing value) are TypeErrors with a code.
    if (e instanceof FlagError || e instanceof ConfigError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
      throw new ArgsError((e as Error).message);
    throw e;
  }
}
