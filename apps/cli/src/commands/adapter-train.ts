import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { type LoraTarget, loadModel, loadModelConfig, modelFingerprint, modelKeyName } from '@rg/engine';
import { readPeftAdapter, writePeftAdapter } from '@rg/lora';
import { DEFAULT_TARGETS, exampleGradient, GradientExampleError, initBaseWeight } from '@rg/lora-trainer';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { intList, nonNegativeInt, positiveInt, positiveNumber } from '../parse.js';
import { defaultAdapterStore, targetList } from '../train/common.js';
import { adapterCommand } from './adapter.js';

interface InitFlags {
  rank: number;
  alpha: number;
  targets: LoraTarget[];
  seed: number;
  out?: string;
  store?: string;
  json?: boolean;
}

interface GradFlags {
  text?: string;
  ids?: number[];
  prompt?: string;
  init: string;
  out: string;
  json?: boolean;
}

export function registerAdapterTrain(program: Command, ctx: CliContext): void {
  const group = adapterCommand(program);
  group
    .command('init')
    .description("write the shared initial adapter (base_weight: A as PEFT's default init, B = 0) into the store and/or a folder")
    .option('--rank <r>', 'LoRA rank', positiveInt, 2)
    .option('--alpha <a>', 'LoRA alpha (scale = alpha / rank)', positiveNumber, 32)
    .option('--targets <list>', 'target modules', targetList, [...DEFAULT_TARGETS])
    .option('--seed <s>', 'seed of the A init', nonNegativeInt, 0)
    .option('--out <dir>', 'also write the adapter as a PEFT folder here')
    .option('--store <dir>', 'adapter store (default: RG_HOME/adapters)')
    .option('--json', 'print JSON')
    .action(async (flags: InitFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const { config: modelConfig, source } = await loadModelConfig(config.model, { home: config.home, pull: true });
      const storeDir = resolve(ctx.io.cwd, flags.store ?? defaultAdapterStore(config.home));
      const store = AdapterStore.open(storeDir);
      try {
        const { adapter, entry } = initBaseWeight(store, modelConfig, {
          modelName: modelKeyName(source),
          fingerprint: modelFingerprint(modelConfig, source),
          rank: flags.rank,
          alpha: flags.alpha,
          targets: flags.targets,
          seed: flags.seed,
        });
        let out: string | undefined;
        if (flags.out) {
          out = resolve(ctx.io.cwd, flags.out);
          writePeftAdapter(out, adapter);
        }
        const result = {
          store: storeDir,
          path: entry.path,
          out,
          rank: flags.rank,
          alpha: flags.alpha,
          targets: flags.targets,
          modules: adapter.modules.size,
        };
        if (flags.json) ctx.json(result);
        else
          ctx.print(
            `base_weight rank=${flags.rank} alpha=${flags.alpha} (${adapter.modules.size} modules) -> ${entry.path}${out ? ` and ${out}` : ''}`,
          );
      } finally {
        store.close();
      }
    });

  group
    .command('grad')
    .description('gradient of one example at an adapter, saved in the adapter format (PEFT tensor names); to compare with PyTorch + PEFT')
    .option('--text <t>', 'the text (tokenized with the model tokenizer)')
    .option('--ids <list>', 'token ids instead of --text, e.g. 1,2,3', intList)
    .option('--prompt <p>', 'tokens before the text that get no loss (default: the loss covers every next-token prediction)')
    .requiredOption('--init <dir>', 'PEFT adapter folder the gradient is taken at')
    .requiredOption('--out <dir>', 'output folder for the gradient (PEFT layout)')
    .option('--json', 'print the token ids used and the loss as JSON')
    .action(async (flags: GradFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      if ((flags.text === undefined) === (flags.ids === undefined)) throw new UsageError('give exactly one of --text T or --ids 1,2,3');
      const initDir = resolve(ctx.io.cwd, flags.init);
      if (!existsSync(initDir)) throw new UsageError(`--init ${initDir}: no such folder`);
      const init = readPeftAdapter(initDir);
      const model = await loadModel(config.model, { home: config.home, pull: true });
      const prompt = flags.prompt === undefined ? [] : model.tokenizer.encode(flags.prompt);
      const ids = [...prompt, ...(flags.ids ?? model.tokenizer.encode(flags.text as string))];
      const r = await exampleGradient(model, init, { ids, promptTokens: prompt.length }, { threads: config.threads }).catch((e) => {
        throw e instanceof GradientExampleError ? new UsageError(`${flags.ids ? '--ids' : '--text'}: ${e.message}`) : e;
      });
      const out = resolve(ctx.io.cwd, flags.out);
      writePeftAdapter(out, r.gradient);
      if (flags.json) ctx.json({ ids, promptTokens: prompt.length, loss: r.loss, out, ms: Math.round(r.ms) });
      else ctx.print(`loss ${r.loss.toFixed(6)} over ${ids.length} tokens; gradient -> ${out}`);
    });
}
