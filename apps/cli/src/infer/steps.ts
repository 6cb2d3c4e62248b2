import type { Config } from '../config.js';
import type { CliContext } from '../context.js';

/**
 * Runs rg subcommands in this process, as a user would type them, numbered "[i/total] label" on stderr. Their
 * stdout goes to stderr too, so the calling command's stdout holds only its own result.
 */
export async function stepRunner(ctx: CliContext, config: Config, total: number) {
  const { main } = await import('../main.js');
  const globals = ['--home', config.home, '--model', config.model, '--threads', String(config.threads)];
  let n = 0;
  return {
    /** Announce a step done in-process by the caller (no subcommand). */
    announce(label: string): void {
      n++;
      ctx.info(`[${n}/${total}] ${label}`);
    },
    async run(label: string, argv: string[]): Promise<void> {
      n++;
      ctx.info(`[${n}/${total}] ${label}: rg ${argv.join(' ')}`);
      const code = await main([...globals, ...argv], { ...ctx.io, stdout: ctx.io.stderr });
      if (code !== 0) throw new Error(`step "${label}" failed (exit ${code}); fix it and run again: finished steps are reused`);
    },
  };
}
