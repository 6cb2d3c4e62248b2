import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { CLUSTER_BENCH_DEFAULTS, clusterBench } from '@rg/pipeline/bench';
import { type Command, InvalidArgumentError } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { nonNegativeInt } from '../parse.js';
import { allowBusyOption, benchCommand, benchRun } from './bench.js';
import { openStore } from './index-cmd.js';

interface Flags {
  store: string;
  input?: string;
  kValues: number[];
  topC: number[];
  seed: number;
  allowBusy?: boolean;
  json?: boolean;
}

function positiveList(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p) || Number.parseInt(p, 10) < 1))
    throw new InvalidArgumentError('expected comma-separated positive integers');
  return parts.map((p) => Number.parseInt(p, 10));
}

/** `rg bench cluster`: @rg/pipeline's clusterBench (cluster routing against the gold abstract) on a store of the CLI's. */
export function registerBenchCluster(program: Command, ctx: CliContext): void {
  benchCommand(program)
    .command('cluster')
    .description('cluster routing on PubMedQA PQA-L: gold abstract in the top-c routed clusters, per k; inertia, silhouette, fit time')
    .requiredOption('--store <dir>', 'corpus store of the PubMedQA abstracts (rg corpus ingest --format pubmedqa)')
    .option('--input <file>', 'PubMedQA ori_pqal.json with the questions (default ../shared/data/pubmedqa/ori_pqal.json)')
    .option('--k-values <list>', 'numbers of clusters', positiveList, [...CLUSTER_BENCH_DEFAULTS.kValues])
    .option('--top-c <list>', 'clusters routed per question', positiveList, [...CLUSTER_BENCH_DEFAULTS.topC])
    .option('--seed <s>', 'k-means seed', nonNegativeInt, CLUSTER_BENCH_DEFAULTS.seed)
    .addOption(allowBusyOption())
    .option('--json', 'print one JSON line')
    .action(async (flags: Flags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const input = resolve(ctx.io.cwd, flags.input ?? '../shared/data/pubmedqa/ori_pqal.json');
      if (!existsSync(input)) throw new UsageError(`--input ${input}: not found (PubMedQA PQA-L ori_pqal.json)`);
      const run = benchRun(ctx, { threads: config.threads, allowBusy: flags.allowBusy ?? false });
      const store = openStore(flags.store);
      try {
        const result = await clusterBench(
          { store, input, kValues: flags.kValues, topC: flags.topC, seed: flags.seed, home: config.home, threads: config.threads },
          (line) => ctx.info(line),
        );
        const out = { bench: 'cluster', ...run.finish(), ...result };
        if (flags.json) ctx.json(out);
        else ctx.print(JSON.stringify(out, null, 2));
      } finally {
        store.close();
      }
    });
}
