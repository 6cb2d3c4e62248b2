import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { type RetrievalFields, retrievalFields, TemplateAugmenter } from '@rg/augment';
import { mean, median } from '@rg/bench-kit';
import { CorpusStore, type Document, ingest } from '@rg/corpus';
import { sentenceEncoderDir } from '@rg/engine';
import { type Dataset, DatasetError, loadPopQa, loadPubMedQa } from '@rg/inference';
import {
  type BackendName,
  commitBuild,
  DEFAULT_FIELD_WEIGHTS,
  EMBEDDED_BACKENDS,
  type FieldWeights,
  HybridRetriever,
  openRetriever,
  SqliteBm25Retriever,
} from '@rg/retriever';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { nonNegativeInt, stringList } from '../parse.js';
import { allowBusyOption, benchCommand, benchRun } from './bench.js';
import { type BenchQuestion, KS, measure } from './bench-retrieve-recall.js';
import { annScaling, scaling } from './bench-retrieve-scale.js';
import { fieldWeightsOption, readRetrievalFields } from './index-cmd.js';

interface Flags {
  dataset: 'pubmedqa' | 'popqa';
  split: 'dev' | 'test' | 'all';
  dataDir: string;
  input?: string;
  tags?: boolean;
  augmented?: string;
  fieldWeights?: FieldWeights;
  backends: string[];
  scale: number;
  annScale: number;
  peer: boolean;
  allowBusy?: boolean;
  json?: boolean;
}

/** Backends whose lexical part indexes tags: measured again with tags under `--tags`. */
const TAGGED_BACKENDS = ['sqlite', 'hybrid'] as const;

export function registerBenchRetrieve(program: Command, ctx: CliContext): void {
  benchCommand(program)
    .command('retrieve')
    .description(
      'retrieval on PubMedQA PQA-L (1,000 abstracts, gold = the question’s own abstract) or PopQA (its supporting Wikipedia paragraphs, gold = either of a question’s two): recall@1/3/10 (share of questions with a gold document in the top k), latency, ingest rate',
    )
    .addOption(new Option('--dataset <name>', 'corpus and questions').choices(['pubmedqa', 'popqa']).default('pubmedqa'))
    .addOption(
      new Option('--split <split>', 'questions asked: dev, test (rg inference’s fixed splits) or all; the corpus is always whole')
        .choices(['dev', 'test', 'all'])
        .default('all'),
    )
    .option('--data-dir <dir>', 'folder holding pubmedqa/ and popqa/', '../shared/data')
    .option('--input <file>', 'the dataset file (default DATA_DIR/pubmedqa/ori_pqal.json or DATA_DIR/popqa/popqa.json)')
    .option(
      '--tags',
      `also measure ${TAGGED_BACKENDS.join(' and ')} with every document's tags and description indexed (the template augmenter's, unless --augmented)`,
    )
    .option('--augmented <file>', 'with --tags: take tags and descriptions from this augmented file (rg augment) instead')
    .option(
      '--field-weights <list>',
      'with --tags: field weights of the tagged index, e.g. text=1,title=1,tags=0.5,description=0.5',
      fieldWeightsOption,
    )
    .option('--backends <list>', `embedded backends to measure (${EMBEDDED_BACKENDS.join(', ')})`, stringList, [...EMBEDDED_BACKENDS])
    .option('--scale <n>', 'also time BM25 with n generated passages added (0 = skip)', nonNegativeInt, 0)
    .option(
      '--ann-scale <n>',
      'also compare the HNSW index with exact sqlite-vec search on the real abstract vectors plus generated ones, up to n (0 = skip)',
      nonNegativeInt,
      0,
    )
    .option('--no-peer', 'skip the Python peer (tools/bench/retrieve_peer.py: bm25s, transformers)')
    .addOption(allowBusyOption())
    .option('--json', 'print one JSON line')
    .action(async (flags: Flags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const dataFile = flags.dataset === 'popqa' ? 'popqa/popqa.json' : 'pubmedqa/ori_pqal.json';
      const input = resolve(ctx.io.cwd, flags.input ?? join(flags.dataDir, dataFile));
      if (!existsSync(input))
        throw new UsageError(
          `--input ${input}: not found (${flags.dataset === 'popqa' ? 'PopQA popqa.json, see ../shared/data/popqa/SOURCE.md' : 'PubMedQA PQA-L ori_pqal.json from github.com/pubmedqa/pubmedqa, data/'})`,
        );
      if ((flags.augmented !== undefined || flags.fieldWeights !== undefined) && !flags.tags)
        throw new UsageError('--augmented and --field-weights apply with --tags only');
      if (flags.tags && !flags.backends.some((b) => (TAGGED_BACKENDS as readonly string[]).includes(b)))
        throw new UsageError(`--tags measures ${TAGGED_BACKENDS.join(' or ')}: add one to --backends`);
      for (const b of flags.backends)
        if (!(EMBEDDED_BACKENDS as readonly string[]).includes(b))
          throw new UsageError(`--backends: unknown embedded backend "${b}" (expected ${EMBEDDED_BACKENDS.join(', ')})`);
      const run = benchRun(ctx, { threads: config.threads, allowBusy: flags.allowBusy ?? false });
      const dir = mkdtempSync(join(tmpdir(), 'rg-bench-retrieve-'));
      try {
        // Ingest rate: median of 3 runs into fresh stores after one warm-up run.
        const runs: number[] = [];
        for (let i = 0; i < 4; i++) {
          const s = CorpusStore.open(join(dir, `ingest-${i}`));
          const sum = await ingest(s, { input, format: flags.dataset });
          s.close();
          if (i > 0) runs.push(sum.docsPerSecond);
        }
        const store = CorpusStore.open(join(dir, 'store'));
        const ing = await ingest(store, { input, format: flags.dataset });
        const questions = benchQuestions(flags.dataset, input, flags.split);
        const backends: Record<string, unknown> = {};
        // Hybrid reuses the BM25 and dense indexes: each part is built (and timed) once.
        const buildSeconds = new Map<BackendName, number>();
        // CPU seconds beside wall seconds: on a shared machine the gap shows how much the run waited for a core.
        const buildCpuSeconds = new Map<BackendName, number>();
        const parts = (name: BackendName): BackendName[] => (name === 'hybrid' ? ['sqlite', 'dense'] : [name]);
        for (const name of flags.backends as BackendName[]) {
          for (const part of parts(name)) {
            if (buildSeconds.has(part)) continue;
            ctx.info(`bench retrieve: building ${part}`);
            const t0 = performance.now();
            const cpu0 = process.cpuUsage();
            const built = await openRetriever(part, { storeDir: store.dir, build: true, home: config.home, threads: config.threads });
            await built.add([...store.iterate()]);
            await built.close();
            commitBuild(store.dir, part);
            buildSeconds.set(part, (performance.now() - t0) / 1000);
            buildCpuSeconds.set(part, cpuSeconds(cpu0));
          }
          ctx.info(`bench retrieve: querying ${name}`);
          const seconds = parts(name).reduce((a, p) => a + (buildSeconds.get(p) ?? 0), 0);
          const r = await openRetriever(name, { storeDir: store.dir, home: config.home, threads: config.threads });
          const cpu = parts(name).reduce((a, p) => a + (buildCpuSeconds.get(p) ?? 0), 0);
          backends[name] = {
            indexDocsPerSecond: store.count() / seconds,
            indexSeconds: seconds,
            indexCpuSeconds: cpu,
            ...(await measure(r, questions)),
          };
          await r.close();
        }
        const tagged = flags.tags ? await withTags(ctx, flags, store, questions, join(dir, 'tags'), config, backends) : undefined;
        // The peer script reads PubMedQA and asks all of its questions.
        const peer = !flags.peer
          ? { skipped: '--no-peer' }
          : flags.dataset !== 'pubmedqa' || flags.split !== 'all'
            ? { skipped: 'the peer measures PubMedQA, all questions, only' }
            : runPeer(ctx, input, sentenceEncoderDir(config.home), config.threads, backends);
        const scaled =
          flags.scale > 0 ? await scaling(store, questions, flags.scale, join(dir, 'scale.sqlite'), (s) => ctx.info(s)) : undefined;
        const annScaled =
          flags.annScale > 0 ? await annScaling(store, questions, flags.annScale, join(dir, 'ann'), config, (s) => ctx.info(s)) : undefined;
        const result = {
          bench: 'retrieve',
          ...run.finish(),
          corpus: {
            dataset: flags.dataset,
            split: flags.split,
            file: input,
            documents: store.count(),
            questions: questions.length,
            gold: flags.dataset === 'popqa' ? 'either supporting paragraph (subject and object pages)' : 'the question’s own abstract',
          },
          ingest: { docsPerSecond: median(runs), runsDocsPerSecond: runs, documents: ing.added },
          backends,
          ...(tagged ? { tags: tagged } : {}),
          peer,
          scaling: scaled,
          annScaling: annScaled,
        };
        store.close();
        if (flags.json) ctx.json(result);
        else ctx.print(JSON.stringify(result, null, 2));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
}

/** The split's questions with their gold documents (ids as `rg corpus ingest` gives them: PMID, Wikipedia title). */
function benchQuestions(dataset: Flags['dataset'], input: string, split: Flags['split']): BenchQuestion[] {
  let loaded: Dataset;
  try {
    loaded = dataset === 'popqa' ? loadPopQa(input, split) : loadPubMedQa(dirname(input), split);
  } catch (e) {
    throw e instanceof DatasetError ? new UsageError(e.message) : e;
  }
  return loaded.examples.map((ex) => ({ text: ex.question, gold: ex.goldDocIds ?? [] }));
}

/**
 * The tagged runs: every document with its tags and description (the template augmenter's, made here and timed, or
 * an augmented file's) in a BM25 index of its own, searched alone (`sqlite+tags`) and fused with the same dense
 * index as `hybrid` (`hybrid+tags`). The untagged figures of the same run are the comparison (`recallGain`).
 */
async function withTags(
  ctx: CliContext,
  flags: Flags,
  store: CorpusStore,
  questions: BenchQuestion[],
  dir: string,
  config: { home: string; threads: number },
  backends: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  ctx.info('bench retrieve: tags and descriptions');
  const t0 = performance.now();
  let fields: Map<string, RetrievalFields>;
  let source: string;
  if (flags.augmented) {
    source = resolve(ctx.io.cwd, flags.augmented);
    fields = (await readRetrievalFields(source, store)).fields;
  } else {
    source = 'template augmenter (rg augment --generator template), every document';
    const template = new TemplateAugmenter();
    fields = new Map();
    for (const d of store.iterate()) fields.set(d.id, retrievalFields(await template.augment({ id: d.id, title: d.title, text: d.text })));
  }
  const tagSeconds = (performance.now() - t0) / 1000;
  const docs: Document[] = [...store.iterate()].map((d) => {
    const f = fields.get(d.id);
    return f ? { ...d, tags: f.tags, description: f.description } : d;
  });
  const path = join(dir, 'bm25.sqlite');
  const b0 = performance.now();
  const built = new SqliteBm25Retriever(path, { bulk: true, fieldWeights: flags.fieldWeights });
  await built.add(docs);
  await built.close();
  const indexSeconds = (performance.now() - b0) / 1000;
  const gain: Record<string, Record<string, number>> = {};
  for (const name of TAGGED_BACKENDS.filter((b) => flags.backends.includes(b))) {
    ctx.info(`bench retrieve: querying ${name}+tags`);
    const bm25 = new SqliteBm25Retriever(path);
    const r =
      name === 'hybrid'
        ? new HybridRetriever([bm25, await openRetriever('dense', { storeDir: store.dir, home: config.home, threads: config.threads })])
        : bm25;
    const m = await measure(r, questions);
    await r.close();
    backends[`${name}+tags`] = { indexSeconds, ...m };
    const plain = (backends[name] as { recall: Record<string, number> }).recall;
    gain[name] = Object.fromEntries(KS.map((k) => [`@${k}`, m.recall[`@${k}`] - plain[`@${k}`]]));
  }
  const n = (what: RetrievalFields['tagsFrom']) => [...fields.values()].filter((f) => f.tagsFrom === what).length;
  return {
    source,
    documentsWithFields: fields.size,
    documentsWithTags: [...fields.values()].filter((f) => f.tags.length > 0).length,
    tagsFromGenerator: n('generator'),
    tagsFromTemplate: n('template'),
    meanTagsPerDocument: mean([...fields.values()].map((f) => f.tags.length)),
    documentsWithDescription: [...fields.values()].filter((f) => f.description !== '').length,
    tagSeconds,
    fieldWeights: { ...DEFAULT_FIELD_WEIGHTS, ...flags.fieldWeights },
    recallGain: gain,
  };
}

/**
 * The Python stack on the same task, run after rg's measurements (never beside them: two cores).
 * Ratios > 1 mean rg is faster: peer latency / rg latency, rg index rate / peer index rate.
 */
function runPeer(ctx: CliContext, input: string, modelDir: string, threads: number, rg: Record<string, unknown>): Record<string, unknown> {
  const python = resolve(ctx.io.cwd, 'tools/.venv/bin/python');
  const script = resolve(ctx.io.cwd, 'tools/bench/retrieve_peer.py');
  if (!existsSync(python) || !existsSync(script)) return { skipped: `needs ${python} and ${script} (run from the repository root)` };
  if (!existsSync(modelDir)) return { skipped: `no encoder at ${modelDir} (measure the dense backend first)` };
  ctx.info('bench retrieve: peer (bm25s, transformers)');
  const r = spawnSync(python, [script, input, modelDir, String(threads)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`peer failed: ${r.stderr.slice(-800)}`);
  const peer = JSON.parse(r.stdout) as Record<string, { latencyMs: { p50: number }; indexDocsPerSecond: number }>;
  const ratios: Record<string, unknown> = {};
  for (const name of ['sqlite', 'dense'] as const) {
    const ours = rg[name] as { latencyMs: { p50: number }; indexDocsPerSecond: number } | undefined;
    if (!ours || !peer[name]) continue;
    ratios[name] = {
      p50LatencyPeerOverRg: peer[name].latencyMs.p50 / ours.latencyMs.p50,
      indexRateRgOverPeer: ours.indexDocsPerSecond / peer[name].indexDocsPerSecond,
    };
  }
  return { ...peer, ratios };
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}
