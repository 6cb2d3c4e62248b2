import { COMPOSE_MODES, type MethodOutcome } from '@rg/inference';
import { Option } from 'commander';
import type { Config } from '../config.js';
import type { CliContext, Progress } from '../context.js';
import { type InferSettings, runInference } from './pipeline.js';

/**
 * Runs rg subcommands in this process, as a user would type them, numbered "[i/total] label" on stderr. Their
 * stdout goes to stderr too, so the calling command's stdout holds only its own result.
 */
export function stepRunner(ctx: CliContext, config: Config, steps: number) {
  let total = steps;
  const globals = ['--home', config.home, '--model', config.model, '--threads', String(config.threads)];
  let n = 0;
  return {
    /** Announce that the next `count` steps are not run (numbering goes on without them). */
    skip(label: string, count: number): void {
      n++;
      total -= count - 1;
      ctx.info(`[${n}/${total}] ${label}`);
    },
    /** Announce a step done in-process by the caller (no subcommand). */
    announce(label: string): void {
      n++;
      ctx.info(`[${n}/${total}] ${label}`);
    },
    async run(label: string, argv: string[]): Promise<void> {
      n++;
      ctx.info(`[${n}/${total}] ${label}: rg ${argv.join(' ')}`);
      const code = await ctx.runCommand([...globals, ...argv], { ...ctx.io, stdout: ctx.io.stderr });
      if (code !== 0) throw new Error(`step "${label}" failed (exit ${code}); fix it and run again: finished steps are reused`);
    },
  };
}

/** runInference with one progress bar per method (TTY only, none when quiet). */
export async function inferWithProgress(ctx: CliContext, settings: InferSettings, quiet: boolean | undefined): Promise<MethodOutcome[]> {
  let bar: Progress | undefined;
  return runInference(settings, {
    onMethodStart: (method, total) => {
      bar?.stop();
      bar = ctx.progress(method, total, 'q', quiet);
    },
    onAnswer: () => bar?.tick(),
  }).finally(() => bar?.stop());
}

/** The adapter-shape flags rg encode, rg cluster train and rg infer share (their store key and output path). */
export function adapterShapeArgs(s: { rank: number; alpha: number; lr: number; epochs: number }): string[] {
  return ['--rank', String(s.rank), '--alpha', String(s.alpha), '--lr', String(s.lr), '--epochs', String(s.epochs)];
}

/** `--compose`: how the composed adapters are weighted (rg infer, and commands that answer through runInference). */
export function composeOption(): Option {
  return new Option(
    '--compose <mode>',
    'weights of the k composed adapters (cat_all_one, combine, oracle, cluster): cat = 1 each (their sum), mean = 1/k, score = retrieval scores normalised to sum 1 (1/k without retrieval: oracle, cluster)',
  )
    .choices(COMPOSE_MODES)
    .default('cat');
}
