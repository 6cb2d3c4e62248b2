import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { NotBuiltError } from '../errors.js';

/** The pipeline steps the demo runs, in order, and whether each is built yet. */
export const DEMO_STEPS: Array<{ step: string; built: boolean }> = [
  { step: 'model pull (engine)', built: false },
  { step: 'corpus ingest', built: false },
  { step: 'augment', built: false },
  { step: 'adapter init + encode (lora-trainer)', built: false },
  { step: 'infer: wo_param, icl, cat_all_one, combine', built: false },
];

export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('run the whole method on a small shipped corpus: pull model, ingest, augment, encode, answer')
    .option('--out <dir>', 'folder for everything the demo writes', 'rg-demo')
    .action((opts: { out: string }, cmd: Command) => {
      const flags = cmd.optsWithGlobals();
      ctx.config(flags);
      const missing = DEMO_STEPS.filter((s) => !s.built);
      if (missing.length > 0) {
        throw new NotBuiltError(`rg demo cannot run yet; steps not built: ${missing.map((s) => s.step).join('; ')}`);
      }
      ctx.print(`demo output in ${opts.out}`);
    });
}
