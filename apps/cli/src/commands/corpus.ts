import { statSync } from 'node:fs';
import { INPUT_FORMATS, type InputFormat } from '@rg/corpus';
import { checkFilterOutput, filterCorpus, ingestReported } from '@rg/pipeline';
import { BACKENDS, type BackendName, openRetriever } from '@rg/retriever';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { nonNegativeInt, positiveInt } from '../parse.js';
import { openStore } from './index-cmd.js';

interface IngestFlags {
  input: string;
  store: string;
  format?: InputFormat;
  idField?: string;
  textField?: string;
  titleField?: string;
  chunkTokens?: number;
  chunkOverlap: number;
  strict?: boolean;
  json?: boolean;
}

interface FilterFlags {
  store: string;
  questions: string;
  questionsFormat?: InputFormat;
  perQuestion: number;
  out: string;
  backend: BackendName;
  json?: boolean;
}

export function registerCorpus(program: Command, ctx: CliContext): void {
  const corpus = program.command('corpus').description('document stores: ingest corpora, keep the documents a task needs');

  corpus
    .command('ingest')
    .description('stream a corpus file into a store (dedupe by content; re-runs add nothing twice; interrupted runs resume)')
    .requiredOption('--input <file>', 'corpus file')
    .requiredOption('--store <dir>', 'store folder (created if missing)')
    .addOption(new Option('--format <format>', 'input format (default: from the file name, else jsonl)').choices(INPUT_FORMATS))
    .option('--id-field <name>', 'JSON Lines field / TSV column holding the id (default id)')
    .option('--text-field <name>', 'field holding the text (default contents, abstract or text; TSV: text)')
    .option('--title-field <name>', 'field holding the title (default title)')
    .option('--chunk-tokens <n>', 'split documents into chunks of at most n words', positiveInt)
    .option('--chunk-overlap <n>', 'words shared by consecutive chunks', nonNegativeInt, 0)
    .option('--strict', 'stop at the first bad record instead of skipping it')
    .option('--json', 'print the summary as one JSON line')
    .action(async (flags: IngestFlags, cmd: Command) => {
      ctx.config(cmd.optsWithGlobals());
      if (flags.chunkTokens !== undefined && flags.chunkOverlap >= flags.chunkTokens) {
        throw new UsageError(`--chunk-overlap (${flags.chunkOverlap}) must be smaller than --chunk-tokens (${flags.chunkTokens})`);
      }
      if (flags.chunkTokens === undefined && flags.chunkOverlap > 0) throw new UsageError('--chunk-overlap needs --chunk-tokens');
      fileSize(flags.input, '--input');
      const store = openStore(flags.store, { create: true });
      try {
        const options = {
          format: flags.format,
          fields: { id: flags.idField, text: flags.textField, title: flags.titleField },
          chunk: flags.chunkTokens === undefined ? undefined : { tokens: flags.chunkTokens, overlap: flags.chunkOverlap },
          strict: flags.strict,
        };
        const s = await ingestReported(ctx.reporter(flags.json), store, flags.input, options, {
          summary: (line, summary) => (flags.json ? ctx.json(summary) : ctx.print(line)),
        });
        // Not one record read (the wrong file, format or field): a script must not go on with an empty store.
        if (s.records > 0 && s.skipped === s.records && s.resumedFromByte === 0) {
          const first = s.badRecords[0];
          throw new UsageError(
            `--input ${flags.input}: none of its ${s.records} records could be read (line ${first.line}: ${first.message}); check --format and the --*-field flags`,
          );
        }
      } finally {
        store.close();
      }
    });

  corpus
    .command('filter')
    .description('keep only the documents retrieved for a task: top-N per question, written to a new store')
    .requiredOption('--store <dir>', 'source store (with a built index)')
    .requiredOption('--questions <file>', 'questions: JSON Lines {id, question}, or a PubMedQA / PopQA file')
    .addOption(
      new Option('--questions-format <format>', 'questions file format (default: from the file name)').choices([
        'jsonl',
        'pubmedqa',
        'popqa',
      ]),
    )
    .requiredOption('--per-question <n>', 'documents kept per question', positiveInt)
    .requiredOption('--out <dir>', 'new store folder')
    .addOption(new Option('--backend <name>', 'retriever used to rank').choices(BACKENDS).default('sqlite'))
    .option('--json', 'print the summary as one JSON line')
    .action(async (flags: FilterFlags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      fileSize(flags.questions, '--questions');
      const source = openStore(flags.store);
      const out = openStore(flags.out, { create: true, flag: '--out' });
      try {
        checkFilterOutput(source, out);
        const retriever = await openRetriever(flags.backend, {
          storeDir: flags.store,
          home: config.home,
          threads: config.threads,
          env: ctx.io.env,
        }).catch((e: Error) => {
          throw new UsageError(e.message);
        });
        const summary = await filterCorpus(source, out, retriever, {
          questionsFile: flags.questions,
          format: flags.questionsFormat,
          perQuestion: flags.perQuestion,
        }).finally(() => retriever.close());
        if (flags.json) ctx.json({ ...summary, out: flags.out });
        else ctx.print(`${summary.questions} questions: kept ${summary.kept} documents of ${source.count()} in ${flags.out}`);
      } finally {
        source.close();
        out.close();
      }
    });
}

/** Size of an input file; a missing or unreadable one is a usage error naming the flag. */
export function fileSize(path: string, flag: string): number {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new UsageError(`${flag} ${path}: not a file`);
    return st.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${flag} ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
