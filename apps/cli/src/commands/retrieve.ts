import { formatFromPath, type Metadata, readQuestions } from '@rg/corpus';
import { BACKENDS, type BackendName, HNSW_DEFAULTS, openRetriever, staleIndexReason } from '@rg/retriever';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { collect, positiveInt } from '../parse.js';
import { fileSize } from './corpus.js';
import { openStore } from './index-cmd.js';

interface RetrieveFlags {
  store: string;
  backend: BackendName;
  k: number;
  query?: string;
  queries?: string;
  filter: string[];
  efSearch?: number;
  json?: boolean;
}

/** --filter key=value (repeatable); numbers and true/false are matched as such. */
function parseFilter(pairs: string[]): Metadata | undefined {
  if (pairs.length === 0) return undefined;
  const filter: Metadata = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    // A UsageError, not commander's InvalidArgumentError: thrown inside an action, the latter exits 2 without a message.
    if (eq < 1) throw new UsageError(`--filter ${pair}: expected key=value (e.g. --filter year=2011)`);
    const raw = pair.slice(eq + 1);
    filter[pair.slice(0, eq)] =
      raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return filter;
}

export function registerRetrieve(program: Command, ctx: CliContext): void {
  program
    .command('retrieve')
    .description('rank the documents of a store for one query or a file of queries')
    .requiredOption('--store <dir>', 'store folder with a built index')
    .addOption(new Option('--backend <name>', 'retrieval backend').choices(BACKENDS).default('sqlite'))
    .option('--k <k>', 'documents per query', positiveInt, 10)
    .argument('[query]', 'one query (as --query)')
    .option('--query <text>', 'one query')
    .option('--queries <file>', 'JSON Lines of {id, question|query|text} (or a PubMedQA / PopQA file)')
    .option('--filter <key=value>', 'only documents with this metadata (repeatable)', collect, [])
    .option('--ef-search <n>', `hnsw backend: candidates per search, recall vs speed (default ${HNSW_DEFAULTS.efSearch})`, positiveInt)
    .option('--json', 'JSON lines: {queryId, docIds, scores}')
    .action(async (query: string | undefined, flags: RetrieveFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      if (query !== undefined && flags.query !== undefined) throw new UsageError('give the query once: as an argument or as --query');
      flags.query ??= query;
      if ((flags.query === undefined) === (flags.queries === undefined))
        throw new UsageError('give exactly one of a query (argument or --query) or --queries');
      if (flags.efSearch !== undefined && flags.backend !== 'hnsw') throw new UsageError('--ef-search applies to --backend hnsw only');
      const filter = parseFilter(flags.filter);
      if (flags.queries !== undefined) fileSize(flags.queries, '--queries');
      const store = openStore(flags.store);
      const stale = staleIndexReason(flags.store, flags.backend, { generation: store.generation(), documents: store.count() });
      store.close();
      if (stale) ctx.info(`rg: warning: ${stale}`);
      const retriever = await openRetriever(flags.backend, {
        storeDir: flags.store,
        home: config.home,
        threads: config.threads,
        env: ctx.io.env,
        hnsw: { efSearch: flags.efSearch },
      });
      const emit = (queryId: string, hits: Array<{ id: string; score: number }>): void => {
        if (flags.json) ctx.json({ queryId, docIds: hits.map((h) => h.id), scores: hits.map((h) => h.score) });
        else ctx.print(`${queryId}\t${hits.map((h) => `${h.id}:${h.score.toFixed(4)}`).join(' ')}`);
      };
      try {
        if (flags.query !== undefined) {
          emit('query', await retriever.search(flags.query, { k: flags.k, filter }));
          return;
        }
        const file = flags.queries as string;
        for await (const q of readQuestions(file, formatFromPath(file))) {
          if (q.error || !q.question) throw new UsageError(`${file}:${q.line}: ${q.error}`);
          emit(q.question.id, await retriever.search(q.question.text, { k: flags.k, filter }));
        }
      } catch (e) {
        if (e instanceof RangeError) throw new UsageError(e.message);
        throw e;
      } finally {
        await retriever.close();
      }
    });
}
