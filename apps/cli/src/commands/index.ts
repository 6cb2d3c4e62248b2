import { STORE_BENCH } from '@rg/adapter-store/bench';
import { ADAPTER_DTYPE_BENCH, GENERATE_BENCH } from '@rg/engine/bench';
import { TRAIN_BENCH } from '@rg/lora-trainer/bench';
import { CLUSTER_BENCH, E2E_BENCH, RETRIEVE_BENCH } from '@rg/pipeline/bench';
import { SERVE_BENCH } from '@rg/server/bench';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { registerAdapter } from './adapter.js';
import { registerAdapterTrain } from './adapter-train.js';
import { registerAdapterWarmup } from './adapter-warmup.js';
import { registerAugment } from './augment.js';
import { registerBenchSpec } from './bench.js';
import { registerCluster } from './cluster.js';
import { registerCorpus } from './corpus.js';
import { registerDemo } from './demo.js';
import { registerEncode } from './encode.js';
import { registerGenerate } from './generate.js';
import { registerIndex } from './index-cmd.js';
import { registerInfer } from './infer.js';
import { registerModel } from './model.js';
import { registerRetrieve } from './retrieve.js';
import { registerServe } from './serve.js';
import { registerWorker } from './worker.js';

/** Every `rg bench` command: the packages' benchmark specs. */
function registerBenches(program: Command, ctx: CliContext): void {
  for (const spec of [STORE_BENCH, ADAPTER_DTYPE_BENCH, CLUSTER_BENCH, GENERATE_BENCH, RETRIEVE_BENCH, TRAIN_BENCH, E2E_BENCH, SERVE_BENCH])
    registerBenchSpec(program, ctx, spec);
}

/** Every subcommand module registers itself here; the order is the order of `rg --help`. */
export const commandModules: Array<(program: Command, ctx: CliContext) => void> = [
  registerDemo,
  registerAdapter,
  registerBenches,
  registerCluster,
  registerCorpus,
  registerIndex,
  registerRetrieve,
  registerModel,
  registerGenerate,
  registerAugment,
  registerAdapterTrain,
  registerAdapterWarmup,
  registerEncode,
  registerWorker,
  registerInfer,
  registerServe,
  // Last: it rewrites how every command registered above checks its required options.
  unknownOptionsFirst,
];

/**
 * Commander checks required options before unknown ones, so a misspelled `--inptu x` was reported
 * as a missing `--input`. Required options are checked in a preAction hook instead, which commander
 * runs after its unknown-option check: the misspelled flag is named, with its suggestion. The
 * message and exit code of a truly missing one stay as they were. A hook on a command also fires
 * when one of its subcommands acts, as commander's own check covers ancestors' options.
 */
export function unknownOptionsFirst(program: Command): void {
  const visit = (cmd: Command): void => {
    const required = cmd.options.filter((o) => o.mandatory);
    if (required.length > 0) {
      for (const o of required) o.makeOptionMandatory(false);
      cmd.hook('preAction', () => {
        for (const o of required) {
          if (cmd.getOptionValue(o.attributeName()) === undefined)
            cmd.error(`error: required option '${o.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue' });
        }
      });
    }
    for (const sub of cmd.commands) visit(sub);
  };
  visit(program);
}
