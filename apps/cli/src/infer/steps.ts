import { pullModel } from '@rg/engine';
import { COMPOSE_MODES, type MethodOutcome } from '@rg/inference';
import { Option } from 'commander';
import { pullReporter } from '../commands/model.js';
import type { CliContext, Progress } from '../context.js';
import { positiveNumber } from '../parse.js';
import { type InferSettings, runInference } from './pipeline.js';

/** Numbered "[i/total] label" announcements on stderr, for commands that run the pipeline step by step. */
export function stepCounter(ctx: CliContext, steps: number) {
  let total = steps;
  let n = 0;
  return {
    /** Announce that the next `count` steps are not run (numbering goes on without them). */
    skip(label: string, count: number): void {
      n++;
      total -= count - 1;
      ctx.info(`[${n}/${total}] ${label}`);
    },
    /** Announce the next step. */
    announce(label: string): void {
      n++;
      ctx.info(`[${n}/${total}] ${label}`);
    },
  };
}

/** @rg/engine pullModel of a known model into RG_HOME/models (a no-op when present and verified), with rg model pull's bars. */
export async function pullStep(ctx: CliContext, name: string, home: string, quiet?: boolean): Promise<void> {
  const progress = pullReporter(ctx, Boolean(quiet));
  try {
    const result = await pullModel(name, home, { onProgress: progress.report });
    ctx.info(result.downloaded ? `pulled ${name} into ${result.path}` : `${name} already present and verified`);
  } finally {
    progress.stop();
  }
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

/** `--adapter-scale`: every composition weight times s (rg infer, rg bench e2e). */
export function adapterScaleOption(): Option {
  return new Option(
    '--adapter-scale <s>',
    'multiply the composed adapters’ weights (after --compose) by s: below 1 they act more weakly; answers go to a folder of their own (-s<s>)',
  ).argParser(positiveNumber);
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
