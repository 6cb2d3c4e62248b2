import { loadavg } from 'node:os';
import { registerElasticsearch } from '@rg/retriever-elasticsearch';
import { registerQdrant } from '@rg/retriever-qdrant';
import { Command, CommanderError } from 'commander';
import { commandModules } from './commands/index.js';
import { CliContext, type Io } from './context.js';
import { ExitCode, InterruptedError, isUsageError, NotBuiltError } from './errors.js';
import { positiveInt } from './parse.js';

export const VERSION = '0.1.0';

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('rg')
    .description('Retrievable Gradient: per-document LoRA adapters, retrieved and applied at question time')
    .version(VERSION)
    .option('--home <dir>', 'models and caches (env RG_HOME, default ~/.cache/rg)')
    .option('--model <model>', 'model name, .gguf file or Hugging Face folder (env RG_MODEL)')
    .option('--threads <n>', 'onnxruntime intra-op threads (env RG_THREADS)', positiveInt)
    .option('--config <file>', 'settings file (default ./rg.config.json if present)')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => ctx.io.stdout(s), writeErr: (s) => ctx.io.stderr(s) })
    .exitOverride();
  for (const register of commandModules) register(program, ctx);
  // Subcommands inherit output routing and exit handling so that every --help and error goes the same way.
  for (const sub of program.commands) applyToTree(sub, ctx);
  return program;
}

function applyToTree(cmd: Command, ctx: CliContext): void {
  cmd
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => ctx.io.stdout(s), writeErr: (s) => ctx.io.stderr(s) })
    .exitOverride();
  for (const sub of cmd.commands) applyToTree(sub, ctx);
}

/** Run the CLI; returns the exit code instead of exiting so tests can drive it. */
export async function main(argv: string[], io?: Partial<Io>): Promise<number> {
  // The server backends are plug-ins of @rg/retriever: `--backend elasticsearch|qdrant` opens them by name.
  registerElasticsearch();
  registerQdrant();
  const ctx = new CliContext({
    stdout: io?.stdout ?? ((s) => process.stdout.write(s)),
    stderr: io?.stderr ?? ((s) => process.stderr.write(s)),
    isTTY: io?.isTTY ?? Boolean(process.stderr.isTTY),
    env: io?.env ?? process.env,
    cwd: io?.cwd ?? process.cwd(),
    loadavg: io?.loadavg ?? loadavg,
  });
  const program = buildProgram(ctx);
  if (argv.length === 0) {
    program.outputHelp();
    return ExitCode.usage;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version end through exitOverride with code 0; parse errors have been printed.
      return e.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (isUsageError(e)) {
      ctx.io.stderr(`rg: error: ${e.message}\n`);
      return ExitCode.usage;
    }
    if (e instanceof InterruptedError) {
      ctx.io.stderr(`rg: interrupted: ${e.message}\n`);
      return ExitCode.interrupted;
    }
    if (e instanceof NotBuiltError) {
      ctx.io.stderr(`rg: not built yet: ${e.message}\n`);
      return ExitCode.notBuilt;
    }
    ctx.io.stderr(`rg: error: ${(e as Error).message ?? String(e)}\n`);
    if (ctx.io.env.RG_DEBUG) ctx.io.stderr(`${(e as Error).stack}\n`);
    return ExitCode.failure;
  }
}
