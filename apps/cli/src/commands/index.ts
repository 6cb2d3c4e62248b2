import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { registerDemo } from './demo.js';

/** Every subcommand module registers itself here; the order is the order of `rg --help`. */
export const commandModules: Array<(program: Command, ctx: CliContext) => void> = [registerDemo];
