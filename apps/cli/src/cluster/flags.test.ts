import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { subcommandFlags } from './flags.js';

describe('subcommandFlags', () => {
  it('takes flags commander gave the parent, keeps the subcommand defaults otherwise', async () => {
    let seen: Record<string, unknown> = {};
    const program = new Command('rg').exitOverride();
    const parent = program.command('cluster').option('--seed <s>', '', '0').option('--batch-size <n>', '', '32').option('--store <d>');
    parent
      .command('train')
      .option('--seed <s>', '', '0')
      .option('--batch-size <n>', '', '1')
      .option('--store <d>')
      .option('--lr <x>', '', '0.1')
      .action((_o, cmd: Command) => {
        seen = subcommandFlags(cmd);
      });
    await program.parseAsync(['cluster', 'train', '--seed', '3', '--store', 'S', '--lr', '0.5'], { from: 'user' });
    // Without the helper train would see seed 0 and no store: commander parsed both into the parent.
    expect(seen).toEqual({ seed: '3', batchSize: '1', store: 'S', lr: '0.5' });
  });
});
