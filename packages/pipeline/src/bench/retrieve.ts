import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { type RetrievalFields, retrievalFields, TemplateAugmenter } from '@rg/augment';
import { mean, median } from '@rg/bench-kit';
import { CorpusStore, type Document, ingest } from '@rg/corpus';
import { sentenceEncoderDir } from '@rg/engine';
import { loadPopQa, loadPubMedQa } from '@rg/inference';
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
import { fieldsFromAugmented } from '../build-index.js';
import { type BenchQuestion, KS, measure, type RecallFigures } from './retrieve-recall.js';
import { type AnnScaling, annScaling, type ScaleRow, scaling } from './retrieve-scale.js';

export type EmbeddedBackend = (typeof EMBEDDED_BACKENDS)[number];

/** Backends whose lexical part indexes tags: measured again with tags when `tags` is set. */
export const TAGGED_BACKENDS = ['sqlite', 'hybrid'] as const;

/** Each dataset's file under the shared data folder. */
export const RETRIEVE_DATASET_FILES = { pubmedqa: 'pubmedqa/ori_pqal.json', popqa: 'popqa/popqa.json' } as const;

/** The Python peer (bm25s, transformers) under a checkout's root: its virtual environment and its script. */
export function retrievePeer(root: string): { python: string; script: string } {
  return { python: resolve(root, 'tools/.venv/bin/python'), script: resolve(root, 'tools/bench/retrieve_peer.py') };
}

export interface RetrieveBenchOptions {
  dataset: keyof typeof RETRIEVE_DATASET_FILES;
  /** Questions asked: rg inference's fixed dev or test split, or all; the corpus is always the whole file. */
  split: 'dev' | 'test' | 'all';
  /** PubMedQA PQA-L's ori_pqal.json (its folder holds test_ground_truth.json for a split) or PopQA's popqa.json. */
  input: string;
  backends: readonly EmbeddedBackend[];
  /** Also measure the TAGGED_BACKENDS among `backends` with every document's tags and description indexed. */
  tags: boolean;
  /** With `tags`: an augmented file (rg augment) to take tags and descriptions from instead of the template augmenter. */
  augmented?: string;
  /** How `augmented` is read: fieldsFromAugmented unless given (the CLI's reader names its flag in errors). */
  readFields?: (file: string, store: CorpusStore) => Promise<{ fields: Map<string, RetrievalFields> }>;
  /** With `tags`: field weights of the tagged index (defaults: the retriever's). */
  fieldWeights?: FieldWeights;
  /** Also time BM25 with this many generated passages added (0: skip). */
  scale: number;
  /** Also compare HNSW with exact search on the real vectors plus generated ones, up to this many (0: skip). */
  annScale: number;
  /** The Python peer to run after rg's measurements (retrievePeer); absent: skipped, reported as `--no-peer`. */
  peer?: { python: string; script: string };
  /** Where models live (the sentence encoder of the dense backends). */
  home: string;
  threads: number;
}

export const RETRIEVE_BENCH_DEFAULTS = {
  dataset: 'pubmedqa',
  split: 'all',
  backends: EMBEDDED_BACKENDS,
  tags: false,
  scale: 0,
  annScale: 0,
} as const satisfies Partial<RetrieveBenchOptions>;

/** One backend's figures; index rates are absent from the tagged runs, whose index is built once for both. */
export interface BackendFigures extends RecallFigures {
  indexDocsPerSecond?: number;
  indexSeconds: number;
  indexCpuSeconds?: number;
}

export interface TagFigures {
  source: string;
  documentsWithFields: number;
  documentsWithTags: number;
  tagsFromGenerator: number;
  tagsFromTemplate: number;
  meanTagsPerDocument: number;
  documentsWithDescription: number;
  tagSeconds: number;
  fieldWeights: FieldWeights;
  /** Per tagged backend: tagged minus untagged recall, keyed `@k`. */
  recallGain: Record<string, Record<string, number>>;
}

export interface RetrieveBenchResult {
  corpus: { dataset: string; split: string; file: string; documents: number; questions: number; gold: string };
  ingest: { docsPerSecond: number; runsDocsPerSecond: number[]; documents: number };
  /** Keyed by backend (`sqlite`, `dense`, ...), and `<backend>+tags` for the tagged runs. */
  backends: Record<string, BackendFigures>;
  tags?: TagFigures;
  peer: Record<string, unknown>;
  scaling?: ScaleRow[];
  annScaling?: AnnScaling;
}

/**
 * Retrieval on PubMedQA PQA-L (gold = the question's own abstract) or PopQA (gold = either of a question's two
 * supporting paragraphs): ingest rate, then per backend the index rate, recall@1/3/10 and query latency, the tagged
 * runs, the Python peer and the scaling runs. Everything is built in a scratch folder, removed at the end.
 */
export async function retrieveBench(options: RetrieveBenchOptions, say: (line: string) => void = () => {}): Promise<RetrieveBenchResult> {
  const { input, home, threads } = options;
  const dir = mkdtempSync(join(tmpdir(), 'rg-bench-retrieve-'));
  try {
    // Ingest rate: median of 3 runs into fresh stores after one warm-up run.
    const runs: number[] = [];
    for (let i = 0; i < 4; i++) {
      const s = CorpusStore.open(join(dir, `ingest-${i}`));
      const sum = await ingest(s, { input, format: options.dataset });
      s.close();
      if (i > 0) runs.push(sum.docsPerSecond);
    }
    const store = CorpusStore.open(join(dir, 'store'));
    try {
      const ing = await ingest(store, { input, format: options.dataset });
      const questions = benchQuestions(options);
      const backends: Record<string, BackendFigures> = {};
      // Hybrid reuses the BM25 and dense indexes: each part is built (and timed) once.
      const buildSeconds = new Map<BackendName, number>();
      // CPU seconds beside wall seconds: on a shared machine the gap shows how much the run waited for a core.
      const buildCpuSeconds = new Map<BackendName, number>();
      const parts = (name: BackendName): BackendName[] => (name === 'hybrid' ? ['sqlite', 'dense'] : [name]);
      for (const name of options.backends) {
        for (const part of parts(name)) {
          if (buildSeconds.has(part)) continue;
          say(`bench retrieve: building ${part}`);
          const t0 = performance.now();
          const cpu0 = process.cpuUsage();
          const built = await openRetriever(part, { storeDir: store.dir, build: true, home, threads });
          await built.add([...store.iterate()]);
          await built.close();
          commitBuild(store.dir, part);
          buildSeconds.set(part, (performance.now() - t0) / 1000);
          buildCpuSeconds.set(part, cpuSeconds(cpu0));
        }
        say(`bench retrieve: querying ${name}`);
        const seconds = parts(name).reduce((a, p) => a + (buildSeconds.get(p) ?? 0), 0);
        const r = await openRetriever(name, { storeDir: store.dir, home, threads });
        const cpu = parts(name).reduce((a, p) => a + (buildCpuSeconds.get(p) ?? 0), 0);
        backends[name] = {
          indexDocsPerSecond: store.count() / seconds,
          indexSeconds: seconds,
          indexCpuSeconds: cpu,
          ...(await measure(r, questions)),
        };
        await r.close();
      }
      const tagged = options.tags ? await withTags(options, store, questions, join(dir, 'tags'), backends, say) : undefined;
      // The peer script reads PubMedQA and asks all of its questions.
      const peer = !options.peer
        ? { skipped: '--no-peer' }
        : options.dataset !== 'pubmedqa' || options.split !== 'all'
          ? { skipped: 'the peer measures PubMedQA, all questions, only' }
          : runPeer(options.peer, input, sentenceEncoderDir(home), threads, backends, say);
      const scaled = options.scale > 0 ? await scaling(store, questions, options.scale, join(dir, 'scale.sqlite'), say) : undefined;
      const annScaled =
        options.annScale > 0 ? await annScaling(store, questions, options.annScale, join(dir, 'ann'), { home, threads }, say) : undefined;
      return {
        corpus: {
          dataset: options.dataset,
          split: options.split,
          file: input,
          documents: store.count(),
          questions: questions.length,
          gold: options.dataset === 'popqa' ? 'either supporting paragraph (subject and object pages)' : 'the question’s own abstract',
        },
        ingest: { docsPerSecond: median(runs), runsDocsPerSecond: runs, documents: ing.added },
        backends,
        ...(tagged ? { tags: tagged } : {}),
        peer,
        scaling: scaled,
        annScaling: annScaled,
      };
    } finally {
      store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The split's questions with their gold documents (ids as `ingest` gives them: PMID, Wikipedia title). A malformed
 * file is the dataset loader's DatasetError.
 */
function benchQuestions({ dataset, input, split }: RetrieveBenchOptions): BenchQuestion[] {
  const loaded = dataset === 'popqa' ? loadPopQa(input, split) : loadPubMedQa(dirname(input), split);
  return loaded.examples.map((ex) => ({ text: ex.question, gold: ex.goldDocIds ?? [] }));
}

/**
 * The tagged runs: every document with its tags and description (the template augmenter's, made here and timed, or
 * an augmented file's) in a BM25 index of its own, searched alone (`sqlite+tags`) and fused with the same dense
 * index as `hybrid` (`hybrid+tags`). The untagged figures of the same run are the comparison (`recallGain`).
 */
async function withTags(
  options: RetrieveBenchOptions,
  store: CorpusStore,
  questions: BenchQuestion[],
  dir: string,
  backends: Record<string, BackendFigures>,
  say: (line: string) => void,
): Promise<TagFigures> {
  say('bench retrieve: tags and descriptions');
  const t0 = performance.now();
  let fields: Map<string, RetrievalFields>;
  let source: string;
  if (options.augmented) {
    source = options.augmented;
    fields = (await (options.readFields ?? fieldsFromAugmented)(source, store)).fields;
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
  const built = new SqliteBm25Retriever(path, { bulk: true, fieldWeights: options.fieldWeights });
  await built.add(docs);
  await built.close();
  const indexSeconds = (performance.now() - b0) / 1000;
  const gain: Record<string, Record<string, number>> = {};
  for (const name of TAGGED_BACKENDS.filter((b) => options.backends.includes(b))) {
    say(`bench retrieve: querying ${name}+tags`);
    const bm25 = new SqliteBm25Retriever(path);
    const r =
      name === 'hybrid'
        ? new HybridRetriever([bm25, await openRetriever('dense', { storeDir: store.dir, home: options.home, threads: options.threads })])
        : bm25;
    const m = await measure(r, questions);
    await r.close();
    backends[`${name}+tags`] = { indexSeconds, ...m };
    const plain = backends[name].recall;
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
    fieldWeights: { ...DEFAULT_FIELD_WEIGHTS, ...options.fieldWeights },
    recallGain: gain,
  };
}

/**
 * The Python stack on the same task, run after rg's measurements (never beside them: two cores).
 * Ratios > 1 mean rg is faster: peer latency / rg latency, rg index rate / peer index rate.
 */
function runPeer(
  { python, script }: { python: string; script: string },
  input: string,
  modelDir: string,
  threads: number,
  rg: Record<string, BackendFigures>,
  say: (line: string) => void,
): Record<string, unknown> {
  if (!existsSync(python) || !existsSync(script)) return { skipped: `needs ${python} and ${script} (run from the repository root)` };
  if (!existsSync(modelDir)) return { skipped: `no encoder at ${modelDir} (measure the dense backend first)` };
  say('bench retrieve: peer (bm25s, transformers)');
  const r = spawnSync(python, [script, input, modelDir, String(threads)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`peer failed: ${r.stderr.slice(-800)}`);
  const peer = JSON.parse(r.stdout) as Record<string, { latencyMs: { p50: number }; indexDocsPerSecond: number }>;
  const ratios: Record<string, unknown> = {};
  for (const name of ['sqlite', 'dense'] as const) {
    const ours = rg[name];
    if (ours?.indexDocsPerSecond === undefined || !peer[name]) continue;
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
