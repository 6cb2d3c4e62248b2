import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Augmenter,
  type AugmentRunSummary,
  type AugmentUnit,
  defaultConcurrency,
  GENERATORS,
  openGenerator,
  type PassageInput,
  passagesFromPrag,
  readAugmented,
  readPassages,
  runAugment,
  toPragItems,
  writeJsonAtomic,
} from '@rg/augment';
import { CorpusStore, STORE_FILE } from '@rg/corpus';
import { WEIGHT_FORMATS, type WeightFormat } from '@rg/engine';
import type { Config } from '@rg/pipeline';
import { corpusPassages } from '@rg/pipeline';
import { type Command, Option } from 'commander';
import type { CliContext, Progress } from '../context.js';
import { InterruptedError, UsageError } from '../errors.js';
import { finiteNumber, nonNegativeInt, positiveInt, positiveNumber } from '../parse.js';

type GeneratorName = (typeof GENERATORS)[number];

interface AugmentFlags {
  input: string;
  output: string;
  generator: GeneratorName;
  qa: number;
  phrasings?: number;
  sample?: number;
  seed: number;
  concurrency?: number;
  unit?: AugmentUnit;
  weights: WeightFormat;
  temperature?: number;
  maxAttempts?: number;
  llmUrl?: string;
  llmModel?: string;
  llmTimeout: number;
  retryFailed?: boolean;
  prag?: string;
  pragModel?: string;
  json?: boolean;
}

/** Passages from a corpus store folder, or from a JSON Lines / published-layout file. */
async function readInput(path: string, sample: number | undefined): Promise<PassageInput> {
  if (!existsSync(path)) throw new UsageError(`--input ${path}: no such file or folder`);
  if (statSync(path).isDirectory()) {
    if (!existsSync(join(path, STORE_FILE)))
      throw new UsageError(`--input ${path}: a folder must be a corpus store (no ${STORE_FILE} in it)`);
    const store = CorpusStore.open(path);
    try {
      return { passages: corpusPassages(store, sample) };
    } finally {
      store.close();
    }
  }
  const input = await readPassages(path);
  if (sample === undefined) return input;
  // In the published layout, as in the original's --sample, the sample counts items (questions), not passages.
  if (input.pragItems) {
    const items = input.pragItems.slice(0, sample);
    return { passages: passagesFromPrag(items, path), pragItems: items };
  }
  return { passages: input.passages.slice(0, sample) };
}

/** The flags that choose and tune the generator (rg augment's, and rg bench e2e's --generator/--qa/--phrasings). */
export type GeneratorFlags = Pick<
  AugmentFlags,
  | 'generator'
  | 'qa'
  | 'phrasings'
  | 'concurrency'
  | 'unit'
  | 'weights'
  | 'temperature'
  | 'maxAttempts'
  | 'llmUrl'
  | 'llmModel'
  | 'llmTimeout'
> & { json?: boolean };

/** @rg/augment openGenerator on rg's model, home and threads (the local model loaded, a server probed). */
export async function makeAugmenter(flags: GeneratorFlags, ctx: CliContext, config: Config): Promise<Augmenter> {
  if (flags.generator === 'local' && flags.phrasings === undefined && !flags.json) ctx.info(`loading ${config.model} ...`);
  return openGenerator(flags, config, ctx.io.env);
}

function printSummary(ctx: CliContext, s: AugmentRunSummary, flags: AugmentFlags): void {
  if (flags.json) {
    ctx.json(s);
    return;
  }
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  ctx.print(
    `${s.processed} passages augmented (${s.skipped} already done): ${s.ok} ok, ${s.failed} failed (${pct(s.validShare)} valid); ` +
      `${s.qaPerPassage.toFixed(2)} QA pairs/passage, ${pct(s.groundedShare)} of proposed answers grounded; ` +
      `${s.passagesPerMin.toFixed(1)} passages/min -> ${s.output}`,
  );
  for (const r of s.failureReasons) ctx.info(`  ${r.count} x ${r.reason}`);
}

export function registerAugment(program: Command, ctx: CliContext): void {
  program
    .command('augment')
    .description('make each passage a rewrite, question/answer pairs, tags and a description (append-only JSONL, resumable)')
    .requiredOption(
      '--input <store|file>',
      'corpus store folder, JSON Lines of {id, text, title?}, or the published layout (JSON array with "passages")',
    )
    .requiredOption('--output <file>', 'JSON Lines output; appended to, passages already in it are skipped')
    .addOption(new Option('--generator <name>', 'what writes the data').choices(GENERATORS).default('local'))
    .option('--qa <n>', 'question/answer pairs per passage', positiveInt, 3)
    .option(
      '--phrasings <p>',
      'template generator: p wordings of each passage (p - 1 more rewrites; each QA fact asked up to p ways)',
      positiveInt,
    )
    .option('--sample <n>', 'only the first n passages (published layout: the first n items)', positiveInt)
    .option('--seed <s>', 'base sampling seed (per passage: seed + hash of its id)', nonNegativeInt, 0)
    .option('--concurrency <c>', 'passages in flight (default: 4 for openai, 1 otherwise)', positiveInt)
    .addOption(
      new Option('--unit <unit>', 'what one model call works on (default: sentence for local, passage for openai)').choices([
        'sentence',
        'passage',
      ]),
    )
    .addOption(
      new Option('--weights <format>', 'local: projection weights, q4 (4-bit, faster), q8 (8-bit) or f32 (exact)')
        .choices(WEIGHT_FORMATS)
        .default('q4'),
    )
    .option(
      '--temperature <t>',
      'sampling temperature; 0 = greedy, retries then sample (default: 0 for sentence, 0.7 for passage)',
      finiteNumber,
    )
    .option(
      '--max-attempts <n>',
      'generator calls per task (sentence: per sentence) before giving up on it (default: 2 for sentence, 3 for passage)',
      positiveInt,
    )
    .option('--llm-url <url>', 'openai: base URL of an OpenAI-compatible API, e.g. http://localhost:8080/v1 (key from env RG_LLM_API_KEY)')
    .option('--llm-model <name>', 'openai: model name sent to the API')
    .option('--llm-timeout <seconds>', 'openai: timeout per request', positiveNumber, 120)
    .option('--retry-failed', 'augment again the passages whose last record failed')
    .option('--prag <file>', 'also write all records of this input in the published layout (JSON array of items with "augment")')
    .option('--prag-model <name>', 'the <model> prefix of "<model>_rewrite" / "<model>_qa" in --prag (default: the generator model)')
    .option('--json', 'print the summary as one JSON line')
    .action(async (flags: AugmentFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      if (flags.temperature !== undefined && flags.temperature < 0) throw new UsageError('--temperature: expected a number >= 0');
      const input = await readInput(flags.input, flags.sample);
      if (input.passages.length === 0) throw new UsageError(`--input ${flags.input}: no passages`);
      const augmenter = await makeAugmenter(flags, ctx, config);

      const stop = new AbortController();
      const onSigint = () => {
        ctx.info('interrupted: finishing the passages in flight (Ctrl-C again to quit now)');
        stop.abort();
        process.removeListener('SIGINT', onSigint);
      };
      process.on('SIGINT', onSigint);
      let progress: Progress = { tick() {}, stop() {} };
      let summary: AugmentRunSummary;
      try {
        summary = await runAugment({
          passages: input.passages,
          augmenter,
          outputPath: flags.output,
          concurrency: flags.concurrency ?? defaultConcurrency(flags.generator),
          seed: flags.seed,
          retryFailed: flags.retryFailed,
          signal: stop.signal,
          onStart: ({ passages, skipped }) => {
            if (skipped > 0 && !flags.json) ctx.info(`resuming: ${skipped} of ${passages} passages already in ${flags.output}`);
            progress = ctx.progress('augment', Math.max(1, passages - skipped), 'passages', flags.json);
          },
          onRecord: (_record, p) => progress.tick(1, { note: ` | ${p.failed} failed` }),
        });
      } finally {
        progress.stop();
        process.removeListener('SIGINT', onSigint);
        await augmenter.close?.();
      }

      if (flags.prag) {
        const ids = new Set(input.passages.map((p) => p.id));
        const records = (await readAugmented(flags.output)).filter((r) => ids.has(r.passageId));
        const augmentModel = flags.pragModel ?? augmenter.generator.replace(/^[a-z]+:/, '');
        await writeJsonAtomic(flags.prag, toPragItems(records, { augmentModel, items: input.pragItems }));
      }
      printSummary(ctx, summary, flags);
      if (summary.interrupted)
        throw new InterruptedError(`stopped after ${summary.processed} passages; run the same command again to resume`);
      // A run in which every passage failed produced nothing to train on: a failure, whatever was written.
      if (summary.processed > 0 && summary.ok === 0) {
        throw new Error(
          `all ${summary.processed} passages failed (reasons above; records kept in ${flags.output}, --retry-failed tries them again)`,
        );
      }
    });
}
