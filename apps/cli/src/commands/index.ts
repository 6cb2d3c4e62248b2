import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { registerAdapter } from './adapter.js';
import { registerAdapterTrain } from './adapter-train.js';
import { registerAdapterWarmup } from './adapter-warmup.js';
import { registerAugment } from './augment.js';
import { registerBenchAdapterDtype } from './bench-adapter-dtype.js';
import { registerBenchCluster } from './bench-cluster.js';
import { registerBenchE2e } from './bench-e2e.js';
import { registerBenchGenerate } from './bench-generate.js';
import { registerBenchRetrieve } from './bench-retrieve.js';
import { registerBenchServe } from './bench-serve.js';
import { registerBenchStore } from './bench-store.js';
import { registerBenchTrain } from './bench-train.js';
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

/** Every subcommand module registers itself here; the order is the order of `rg --help`. */
export const commandModules: Array<(program: Command, ctx: CliContext) => void> = [
  registerDemo,
  registerAdapter,
  registerBenchStore,
  registerBenchAdapterDtype,
  registerCluster,
  registerBenchCluster,
  registerCorpus,
  registerIndex,
  registerRetrieve,
  registerModel,
  registerGenerate,
  registerBenchGenerate,
  registerAugment,
  registerBenchRetrieve,
  registerAdapterTrain,
  registerAdapterWarmup,
  registerEncode,
  registerWorker,
  registerBenchTrain,
  registerInfer,
  registerBenchE2e,
  registerServe,
  registerBenchServe,
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
