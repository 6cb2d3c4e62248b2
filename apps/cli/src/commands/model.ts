import { KNOWN_MODELS, knownModel, loadModelConfig, type PullProgress, pullModel } from '@rg/engine';
import type { Command } from 'commander';
import type { CliContext, Progress } from '../context.js';
import { InterruptedError, UsageError } from '../errors.js';

/**
 * The `rg model` group. Other command modules attach their subcommands to it (`rg model logits`
 * lives with generation), in whatever order they register, so each asks for the group here.
 */
export function modelCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'model') ??
    program.command('model').description('model files: pull the default model, show a resolved config, inspect logits')
  );
}

interface PullFlags {
  json?: boolean;
}

interface InfoFlags {
  json?: boolean;
}

/** Pull progress as bars on a terminal (MB), one per phase: download (pip), extract, verify. */
export function pullReporter(ctx: CliContext, quiet: boolean) {
  let bar: Progress | undefined;
  let phase = '';
  let done = 0;
  const report = (p: PullProgress) => {
    if (p.phase !== phase) {
      bar?.stop();
      phase = p.phase;
      done = 0;
      bar = ctx.progress(p.phase.padEnd(8), Math.ceil(p.totalBytes / 2 ** 20), 'MB', quiet);
    }
    const mb = Math.floor(p.bytes / 2 ** 20);
    if (mb > done) {
      bar?.tick(mb - done);
      done = mb;
    }
  };
  return { report, stop: () => bar?.stop() };
}

export function registerModel(program: Command, ctx: CliContext): void {
  const model = modelCommand(program);

  model
    .command('pull')
    .description(`fetch a known model into RG_HOME/models (known: ${Object.keys(KNOWN_MODELS).join(', ')}); a second pull is a no-op`)
    .argument('[name]', 'known model name (default: --model / RG_MODEL)')
    .option('--json', 'one JSON line: {name, path, sha256, bytes, downloaded}')
    .action(async (name: string | undefined, flags: PullFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const wanted = name ?? config.model;
      if (!(wanted in KNOWN_MODELS)) {
        throw new UsageError(`"${wanted}" is not a known model name (known: ${Object.keys(KNOWN_MODELS).join(', ')})`);
      }
      const known = knownModel(wanted);
      if (!flags.json) ctx.info(`${wanted}: from ${known.pipRequirement} (pip), into ${config.home}/models`);
      const progress = pullReporter(ctx, Boolean(flags.json));
      // Ctrl-C stops pip and removes its partial download (the default handler would exit and leave both behind).
      const stop = new AbortController();
      const onSigint = () => stop.abort();
      process.once('SIGINT', onSigint);
      try {
        const result = await pullModel(wanted, config.home, { onProgress: progress.report, signal: stop.signal }).catch((e: Error) => {
          if (stop.signal.aborted) throw new InterruptedError(`pull of ${wanted} stopped; nothing was kept: run \`rg model pull\` again`);
          throw e;
        });
        const out = { name: wanted, path: result.path, sha256: known.sha256, bytes: known.bytes, downloaded: result.downloaded };
        if (flags.json) ctx.json(out);
        else {
          ctx.info(result.downloaded ? `pulled ${wanted} (sha256 ${known.sha256})` : `${wanted} already present and verified`);
          ctx.print(result.path);
        }
      } finally {
        process.removeListener('SIGINT', onSigint);
        progress.stop();
      }
    });

  model
    .command('info')
    .description('show the resolved config of a model (known name, .gguf file or Hugging Face folder)')
    .argument('[model]', 'model (default: --model / RG_MODEL)')
    .option('--json', 'one JSON line: {model, source, config}')
    .action(async (spec: string | undefined, flags: InfoFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const wanted = spec ?? config.model;
      const { config: modelConfig, source } = await loadModelConfig(wanted, { home: config.home });
      if (flags.json) {
        ctx.json({ model: wanted, source, config: modelConfig });
        return;
      }
      ctx.print(`${source.kind === 'gguf' ? 'GGUF' : 'Hugging Face folder'}: ${source.path}`);
      for (const [key, value] of Object.entries(modelConfig)) ctx.print(`${key}: ${JSON.stringify(value)}`);
    });
}
