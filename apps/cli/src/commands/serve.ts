import { WEIGHT_FORMATS, type WeightFormat } from '@rg/engine';
import {
  DEFAULT_BATCH,
  DEFAULT_PORT,
  DEFAULT_SERVER_OPTIONS,
  LOG_LEVELS,
  type LogLevel,
  type StartOptions,
  startServer,
  untilSignal,
} from '@rg/server';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { collect, nonNegativeInt, positiveInt } from '../parse.js';

interface ServeFlags {
  collection: string[];
  host: string;
  port: number;
  batch: number;
  worker?: boolean;
  weights: WeightFormat;
  /** Absent: `batch` (as rg-server). */
  concurrency?: number;
  maxQueue: number;
  timeout: number;
  trainingPause: number;
  /** False with --no-warm. */
  warm: boolean;
  logLevel: string;
}

/** `rg serve`: the OpenAI-compatible server of @rg/server on the CLI's model, home and threads. */
export function registerServe(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('serve collections over an OpenAI-compatible HTTP API (chat/completions, documents, metrics) until SIGTERM or Ctrl-C')
    .option(
      '--collection <dir>',
      'collection folder, repeatable; the first is the default (none: <home>/collections/default); created if missing',
      collect,
      [],
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0: any free one)', nonNegativeInt, DEFAULT_PORT)
    .option(
      '--batch <n>',
      'generations decoded together, each row with its own adapters; 1: each decodes alone',
      positiveInt,
      DEFAULT_BATCH,
    )
    .option(
      '--worker',
      'decode in a worker thread (keeps its garbage collections off the thread that serves requests; a second copy of the weights)',
    )
    .addOption(
      new Option(
        '--weights <format>',
        "the answering model's projection weights: f32 (exact), q8 (8-bit blocks: ~3x faster decoding, logits within ~2% of f32's range) or q4; training always uses f32",
      )
        .choices(WEIGHT_FORMATS)
        .default('f32'),
    )
    .option('--concurrency <n>', 'generations at the same time (default: --batch, so that a batch can fill)', positiveInt)
    .option(
      '--max-queue <n>',
      'requests that may wait for a generation; one more is answered 429',
      nonNegativeInt,
      DEFAULT_SERVER_OPTIONS.maxQueue,
    )
    .option('--timeout <seconds>', 'per request, waiting included', positiveInt, DEFAULT_SERVER_OPTIONS.requestTimeoutMs / 1000)
    .option(
      '--training-pause <seconds>',
      "an added document's training waits between its steps while answers are in flight, at most this long at a time (0: never)",
      nonNegativeInt,
      10,
    )
    .option('--no-warm', "do not read the collections' adapters into memory at start (by default up to 90% of the adapter cache)")
    .option('--log-level <level>', `one of ${LOG_LEVELS.join(', ')}`, DEFAULT_SERVER_OPTIONS.logLevel)
    .addHelpText(
      'after',
      '\nThe API key, if any, comes from RG_SERVER_API_KEY (never a flag: ps would show it). See apps/server/README.md.',
    )
    .action(async (flags: ServeFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      if (!(LOG_LEVELS as readonly string[]).includes(flags.logLevel)) {
        throw new UsageError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got "${flags.logLevel}"`);
      }
      const say = (line: string) => ctx.info(line);
      const server = await startServer({
        ...serveOptions(flags, config, ctx.io.env.RG_SERVER_API_KEY),
        say,
      });
      const code = await untilSignal(server, process, flags.logLevel === 'silent' ? undefined : say);
      if (code !== 0) throw new Error('the server did not shut down cleanly (see above)');
    });
}

/** `rg serve`'s flags and rg's settings -> the server's start options, with rg-server's defaults and meanings. */
function serveOptions(
  flags: ServeFlags,
  config: { model: string; home: string; threads: number },
  apiKey: string | undefined,
): StartOptions {
  return {
    collections: flags.collection,
    host: flags.host,
    port: flags.port,
    model: config.model,
    home: config.home,
    threads: config.threads,
    batch: flags.batch,
    worker: flags.worker ?? false,
    weightFormat: flags.weights,
    // As rg-server: a batch fills only with as many generations running at once.
    concurrency: flags.concurrency ?? flags.batch,
    maxQueue: flags.maxQueue,
    requestTimeoutMs: flags.timeout * 1000,
    trainingMaxPauseMs: flags.trainingPause * 1000,
    warmAdapters: flags.warm,
    logLevel: flags.logLevel as LogLevel,
    apiKey: apiKey || undefined,
  };
}
