import { type Flag, flagHelp, flagSyntax } from '@rg/bench-kit';
import { type Command, Option } from 'commander';

/**
 * A package's declared flags (`@rg/bench-kit`'s Flag: a benchmark's, the server's) as commander options. Commander
 * only collects what was typed; the package's parseFlags checks and converts it, so rg and the package's own runner
 * accept and refuse the same values.
 */
export function addFlags(cmd: Command, flags: readonly Flag[]): Command {
  for (const f of flags) {
    const option = new Option(flagSyntax(f), flagHelp(f));
    if (f.repeatable) option.argParser((value: string, previous: string[] = []) => [...previous, value]);
    cmd.addOption(f.required ? option.makeOptionMandatory() : option);
  }
  return cmd;
}

const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** What commander collected for `flags`, keyed by flag name as parseFlags takes it (a --no-<thing> given: true). */
export function givenFlags(opts: Record<string, unknown>, flags: readonly Flag[]): Record<string, string | string[] | boolean | undefined> {
  return Object.fromEntries(
    flags.map((f) => {
      // Commander keeps a --no-<thing> switch as <thing>: false.
      const negated = f.kind === 'switch' && f.name.startsWith('no-');
      return [f.name, negated ? opts[camel(f.name.slice(3))] === false : (opts[camel(f.name)] as string | string[] | boolean | undefined)];
    }),
  );
}
