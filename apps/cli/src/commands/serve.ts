import { parseFlags } from '@rg/bench-kit';
import { SERVER_FLAGS, startOptions, startServer, untilSignal } from '@rg/server';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { addFlags, givenFlags } from '../flags.js';

/** `rg serve`: the OpenAI-compatible server of @rg/server (rg-server's flags) on the CLI's model, home and threads. */
export function registerServe(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('serve')
    .description('serve collections over an OpenAI-compatible HTTP API (chat/completions, documents, metrics) until SIGTERM or Ctrl-C');
  addFlags(cmd, SERVER_FLAGS)
    .addHelpText(
      'after',
      '\nThe API key, if any, comes from RG_SERVER_API_KEY (never a flag: ps would show it). See apps/server/README.md.',
    )
    .action(async (opts: Record<string, unknown>, c: Command) => {
      const config = ctx.config(c.optsWithGlobals());
      const at = { cwd: ctx.io.cwd, root: ctx.io.cwd };
      const options = startOptions(parseFlags(SERVER_FLAGS, givenFlags(opts, SERVER_FLAGS), at), config, ctx.io.env.RG_SERVER_API_KEY);
      const say = (line: string) => ctx.info(line);
      const server = await startServer({ ...options, say });
      const code = await untilSignal(server, process, options.logLevel === 'silent' ? undefined : say);
      if (code !== 0) throw new Error('the server did not shut down cleanly (see above)');
    });
}
