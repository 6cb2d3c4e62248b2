import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { registerAdapter } from './adapter.js';
import { registerAdapterTrain } from './adapter-train.js';
import { registerAugment } from './augment.js';
import { registerBenchAdapterDtype } from './bench-adapter-dtype.js';
import { registerBenchCluster } from './bench-cluster.js';
import { registerBenchE2e } from './bench-e2e.js';
import { registerBenchGenerate } from './bench-generate.js';
import { registerBenchRetrieve } from './bench-retrieve.js';
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
  registerEncode,
  registerBenchTrain,
  registerInfer,
  registerBenchE2e,
];
