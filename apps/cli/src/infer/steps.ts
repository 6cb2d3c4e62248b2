import { pullModel } from '@rg/engine';
import { COMPOSE_MODES, type MethodOutcome } from '@rg/inference';
import { inferReported } from '@rg/pipeline';
import { Option } from 'commander';
import { pullReporter } from '../commands/model.js';
import type { CliContext } from '../context.js';
import { positiveNumber } from '../parse.js';
import { cliInferSettings, type InferSettings } from './pipeline.js';

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

/** runInference on the CLI's layout (infer/pipeline.ts) with one progress bar per method (TTY only, none when quiet). */
export function inferWithProgress(ctx: CliContext, settings: InferSettings, quiet: boolean | undefined): Promise<MethodOutcome[]> {
  return inferReported(ctx.reporter(quiet), cliInferSettings(settings));
}

/** `--adapter-scale`: every composition weight times s (rg infer). */
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
