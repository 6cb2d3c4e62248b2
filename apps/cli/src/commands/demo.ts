import { resolve } from 'node:path';
import { KNOWN_MODELS } from '@rg/engine';
import { DEMO_STEPS, runDemo, stepCounter } from '@rg/pipeline';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { pullStep } from '../infer/steps.js';
import { positiveInt } from '../parse.js';

/** The shipped corpus and questions (invented facts: see demo/README.md). */
const DEMO_DIR = resolve(import.meta.dirname, '../../demo');

interface DemoFlags {
  out: string;
  docs?: number;
  json?: boolean;
}

export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('run the whole method on a small shipped corpus: pull model, ingest, augment, encode, answer')
    .option('--out <dir>', 'folder for everything the demo writes', 'rg-demo')
    .option('--docs <n>', 'only the first n documents and their questions (a quicker, noisier run)', positiveInt)
    .option('--json', 'end with one JSON line of per-method accuracies')
    .action(async (flags: DemoFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const t0 = performance.now();
      const steps = stepCounter(ctx.reporter(), 1 + DEMO_STEPS);
      if (config.model in KNOWN_MODELS) {
        steps.announce('pull the model');
        await pullStep(ctx, config.model, config.home, flags.json);
      } else steps.announce(`model ${config.model} (a path: nothing to pull)`);
      const { outcomes, report, out } = await runDemo(
        { demoDir: DEMO_DIR, out: resolve(ctx.io.cwd, flags.out), docs: flags.docs },
        { ...config, env: ctx.io.env, reporter: ctx.reporter(flags.json), steps },
      );
      const seconds = (performance.now() - t0) / 1000;
      const where = `everything the demo wrote is in ${out} (model cached in ${resolve(config.home, 'models')}); ${seconds.toFixed(0)} s`;
      if (flags.json) {
        ctx.info(report);
        ctx.info(where);
        ctx.json(Object.fromEntries(outcomes.map((o) => [o.method, o.metrics.accuracy ?? o.metrics.score])));
      } else {
        ctx.print(report);
        ctx.print(where);
      }
    });
}
