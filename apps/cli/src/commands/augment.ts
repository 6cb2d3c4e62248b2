import {
  type AugmentRunSummary,
  defaultConcurrency,
  type GeneratorSettings,
  openGenerator,
  readAugmented,
  runAugment,
  toPragItems,
  writeJsonAtomic,
} from '@rg/augment';
import { GENERATOR_FLAGS, readAugmentInput, StepInputError } from '@rg/pipeline';
import type { Command } from 'commander';
import type { CliContext, Progress } from '../context.js';
import { InterruptedError, UsageError } from '../errors.js';
import { addTypedFlags } from '../flags.js';
import { nonNegativeInt, positiveInt } from '../parse.js';

interface AugmentFlags extends GeneratorSettings {
  input: string;
  output: string;
  sample?: number;
  seed: number;
  retryFailed?: boolean;
  prag?: string;
  pragModel?: string;
  json?: boolean;
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
  const cmd = program
    .command('augment')
    .description('make each passage a rewrite, question/answer pairs, tags and a description (append-only JSONL, resumable)')
    .requiredOption(
      '--input <store|file>',
      'corpus store folder, JSON Lines of {id, text, title?}, or the published layout (JSON array with "passages")',
    )
    .requiredOption('--output <file>', 'JSON Lines output; appended to, passages already in it are skipped');
  addTypedFlags(cmd, GENERATOR_FLAGS)
    .option('--sample <n>', 'only the first n passages (published layout: the first n items)', positiveInt)
    .option('--seed <s>', 'base sampling seed (per passage: seed + hash of its id)', nonNegativeInt, 0)
    .option('--retry-failed', 'augment again the passages whose last record failed')
    .option('--prag <file>', 'also write all records of this input in the published layout (JSON array of items with "augment")')
    .option('--prag-model <name>', 'the <model> prefix of "<model>_rewrite" / "<model>_qa" in --prag (default: the generator model)')
    .option('--json', 'print the summary as one JSON line')
    .action(async (flags: AugmentFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const input = await readAugmentInput(flags.input, flags.sample).catch((e: unknown) => {
        throw e instanceof StepInputError ? new UsageError(`--input ${e.message}`) : e;
      });
      if (flags.generator === 'local' && flags.phrasings === undefined && !flags.json) ctx.info(`loading ${config.model} ...`);
      const augmenter = await openGenerator(flags, config, ctx.io.env);

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
