import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { documentGroups } from '@rg/encode-queue';
import { DAPT_ADAPTER_ID } from '@rg/lora-trainer';
import { checkEncodeSettings, daptReported, encodeFileOptions, encodeReported, OBJECTIVE_FLAGS, trainableRecords } from '@rg/pipeline';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { addTypedFlags } from '../flags.js';
import { positiveInt } from '../parse.js';
import { defaultAdapterStore } from '../train/common.js';
import { addTrainerOptions, readAugmentedInput, type TrainerFlags, trainingErrorsAsUsage } from '../train/run.js';
import { trainOnQueue } from './encode-queue.js';

interface EncodeFlags extends TrainerFlags {
  input: string;
  store?: string;
  sample?: number;
  dapt?: boolean;
  json?: boolean;
  docsPerPass: number;
  queue?: string;
}

const asUsage = trainingErrorsAsUsage('--store DIR or --dataset NAME');

export function registerEncode(program: Command, ctx: CliContext): void {
  const encode = addTrainerOptions(
    program
      .command('encode')
      .description(
        'train one LoRA adapter per passage of an augmented file (or store its gradient), or with --dapt one on all passages, into the adapter store; resumable',
      )
      .requiredOption('--input <file>', 'augmented records (rg augment output, JSON lines)'),
  );
  addTypedFlags(encode, OBJECTIVE_FLAGS)
    .option('--store <dir>', 'adapter store (default: RG_HOME/adapters)')
    .option('--sample <n>', 'only the first n passages', positiveInt)
    .option('--dataset <name>', 'dataset segment of the store key (default: the input file name)')
    .option(
      '--dapt',
      `the continual-pretraining baseline instead: one adapter on every passage's examples together (id ${DAPT_ADAPTER_ID})`,
    )
    .option(
      '--warmup',
      'train every adapter on top of the stored warm-up adapter (rg adapter warmup) of the model and --dataset: frozen, its sha256 recorded with each adapter; apply them with rg infer --warmup',
    )
    .option('--json', 'print a JSON summary (and no per-passage lines)')
    .option(
      '--docs-per-pass <G>',
      'train G passages’ adapters together in each pass (same adapters as one at a time, up to float rounding)',
      positiveInt,
      1,
    )
    .option('--queue <url>', 'coordinate workers (rg worker) through Redis: redis://HOST:PORT/N; this process only stores their adapters')
    .action(async (flags: EncodeFlags, cmd: Command) => {
      checkEncodeSettings(flags);
      const config = ctx.config(cmd.optsWithGlobals());
      const storeDir = resolve(ctx.io.cwd, flags.store ?? defaultAdapterStore(config.home));
      if (flags.queue) {
        const { input, records } = await readAugmentedInput(ctx.io.cwd, flags.input);
        const usable = trainableRecords(records, (text) => ctx.info(text), flags.examples);
        const todo = flags.sample ? usable.slice(0, flags.sample) : usable;
        const { groups, refused } = documentGroups(todo);
        return trainOnQueue(ctx, { config, storeDir, input, flags: { ...flags, queue: flags.queue } }, groups, refused, 'passages');
      }
      const input = resolve(ctx.io.cwd, flags.input);
      if (!existsSync(input)) throw new UsageError(`--input ${input}: no such file`);
      const options = encodeFileOptions({ model: config.model, home: config.home, threads: config.threads, input, store: storeDir }, flags);
      // --json: the summary object alone on stdout (with rg encode's --mode after the scope); otherwise its line.
      const report = ctx.reporter(flags.json);
      const output = { terse: flags.json };
      const print = (line: string, summary: object) => (flags.json ? ctx.json(summary) : ctx.print(line));
      if (flags.dapt) {
        await daptReported(report, options, {
          ...output,
          summary: (line, { store, scope, id, ...rest }) => print(line, { store, scope, id, mode: flags.mode, ...rest }),
        }).catch(asUsage);
        return;
      }
      await encodeReported(report, options, {
        ...output,
        summary: (line, { store, scope, outcomes, ...rest }) => print(line, { store, scope, mode: flags.mode, ...rest }),
      }).catch(asUsage);
    });
}
