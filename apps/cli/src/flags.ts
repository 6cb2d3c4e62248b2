import { type Flag, FlagError, flagHelp, flagSyntax, parseFlags } from '@rg/bench-kit';
import { type Command, InvalidArgumentError, Option } from 'commander';

/**
 * A package's declared flags (`@rg/bench-kit`'s Flag: a benchmark's, the server's) as commander options. Commander
 * only collects what was typed; the package's parseFlags checks and converts it, so rg and the package's own runner
 * accept and refuse the same values.
 */
export function addFlags(cmd: Command, flags: readonly Flag[]): Command {
  for (const f of flags) {
    const option = new Option(flagSyntax(f), flagHelp(f)).makeOptionMandatory(f.required ?? false);
    if (f.repeatable) option.argParser((value: string, previous: string[] = []) => [...previous, value]);
    cmd.addOption(option);
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

/**
 * A package's declared flags as commander options that commander converts itself (typed values in the action, its
 * own "argument ... is invalid" errors), checked by the same parseFlags. For flags a command shares with a package's
 * own runner (the trainer's, also the e2e table's); not for paths (they are resolved against rg's working folder).
 */
export function addTypedFlags(cmd: Command, flags: readonly Flag[]): Command {
  for (const f of flags) {
    const option = new Option(flagSyntax(f), flagHelp(f, false));
    if (f.kind !== 'switch') option.argParser(valueParser(f));
    if (f.default !== undefined) option.default(Array.isArray(f.default) ? [...f.default] : f.default);
    cmd.addOption(option.makeOptionMandatory(f.required ?? false));
  }
  return cmd;
}

/** A commander value parser by a package flag's rules: the one place that says what an int, count or number is. */
export function valueParser(f: Flag): (raw: string) => unknown {
  return (raw) => {
    try {
      return parseFlags([f], { [f.name]: raw }, { cwd: '/', root: '/' }).get(f.name);
    } catch (e) {
      throw e instanceof FlagError ? new InvalidArgumentError(`expected ${e.expected ?? e.message}`) : e;
    }
  };
}
