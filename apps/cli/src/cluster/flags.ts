import type { Command } from 'commander';

/**
 * The options of a subcommand of `rg cluster`, including those commander handed to the parent: without positional
 * options on the root program, `rg cluster train --seed 3` sets the parent's --seed, not train's. A flag given on the
 * command line wins wherever it was parsed; otherwise the subcommand's own default applies.
 */
export function subcommandFlags<T>(cmd: Command): T {
  const own: Record<string, unknown> = { ...cmd.opts() };
  const parent = cmd.parent;
  if (parent) {
    for (const [key, value] of Object.entries(parent.opts())) {
      if (parent.getOptionValueSource(key) === 'cli' && cmd.getOptionValueSource(key) !== 'cli') own[key] = value;
    }
  }
  return own as T;
}
