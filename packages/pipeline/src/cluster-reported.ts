import type { ClusterModel, KReport } from '@rg/clustering';
import type { CorpusStore } from '@rg/corpus';
import {
  type ClusterCorpusOptions,
  type ClusterCorpusResult,
  clusterCorpus,
  type EmbedCorpusOptions,
  type EmbeddingSummary,
  embedCorpus,
} from './cluster-corpus.js';
import type { EmbeddingCache } from './cluster-embeddings.js';
import { type EncodeClusterFileOptions, type EncodeClusterFileSummary, encodeClusterFile } from './cluster-train.js';
import { NO_PROGRESS, type Reporter, type SummaryOutput } from './reported.js';

/**
 * clusterCorpus counted in documents (the embedding, then the writing of cluster ids) with its lines. Its errors pass
 * through (ClusteringInputError, ClusterSettingsError for saved clusters of other settings).
 */
export async function clusterReported(
  r: Reporter,
  storeDir: string,
  store: CorpusStore,
  options: ClusterCorpusOptions,
): Promise<ClusterCorpusResult> {
  const bar = counterSlot(r);
  try {
    return await clusterCorpus(storeDir, store, options, {
      ...embedHooks(r, bar),
      onClustered: (c) =>
        r.info(
          c.fitted
            ? `fitted k=${c.model.k}`
            : `saved centroids kept (--refit to refit): ${c.added} documents joined, ${c.removed} left, ${c.moved} moved`,
        ),
      onWriteStart: (documents) => bar.start(`writing cluster ids (${options.vectorBackend})`, documents),
      onWriteBatch: (n) => bar.tick(n),
      onWritten: (w) => {
        bar.stop();
        r.info(`wrote ${w.documents} document ids + cluster ids to ${w.backend} (${w.target})`);
      },
    });
  } finally {
    bar.stop();
  }
}

/** embedCorpus counted in documents, with its line. */
export async function embedReported(r: Reporter, cache: EmbeddingCache, options: EmbedCorpusOptions): Promise<EmbeddingSummary> {
  const bar = counterSlot(r);
  try {
    const hooks = embedHooks(r, bar);
    const embedding = await embedCorpus(cache, options, hooks);
    hooks.onEmbedded(embedding);
    return embedding;
  } finally {
    bar.stop();
  }
}

/**
 * encodeClusterFile counted in clusters, a line per trained cluster and the summary (a line to the reporter unless
 * `output.summary` takes it). The trainer's errors pass through.
 */
export async function clusterTrainReported(
  r: Reporter,
  options: EncodeClusterFileOptions,
  output: SummaryOutput<EncodeClusterFileSummary> = {},
): Promise<EncodeClusterFileSummary> {
  let bar = NO_PROGRESS;
  try {
    const s = await encodeClusterFile(options, {
      onNote: (text) => r.info(text),
      onMissing: (missing) =>
        r.info(
          `${missing.length} ${options.on === 'all' ? 'members' : 'representatives'} have no usable augmented record in ${options.input}, e.g. ${missing.slice(0, 3).join(', ')}`,
        ),
      onStart: (groups) => {
        bar = r.progress('cluster adapters', groups, 'clusters');
      },
      onGroup: (o) => {
        bar.tick();
        if (o.status === 'failed') r.info(`FAILED ${o.id}: ${o.error}`);
        else if (o.status === 'trained' && !output.terse)
          r.info(`${o.id}: ${o.examples} examples, loss ${o.finalLoss.toFixed(3)}, ${(o.ms / 1000).toFixed(1)} s`);
      },
    });
    bar.stop();
    (output.summary ?? ((line: string) => r.info(line)))(
      `cluster adapters for k=${s.k}: trained ${s.trained}, skipped ${s.skipped} (already stored), failed ${s.failed} in ${s.seconds} s -> ${s.store}`,
      s,
    );
    return s;
  } finally {
    bar.stop();
  }
}

/** The embedding's counter and lines. */
function embedHooks(r: Reporter, bar: ReturnType<typeof counterSlot>) {
  return {
    onLog: (line: string) => r.info(line),
    onStart: (pending: number) => bar.start('embedding', pending),
    onBatch: (n: number) => bar.tick(n),
    onEmbedded: (e: EmbeddingSummary) => {
      bar.stop();
      if (e.embedded > 0) r.info(`embedded ${e.embedded} documents in ${e.seconds.toFixed(1)} s (${e.model})`);
    },
  };
}

/** One counter (of documents) at a time: clustering shows the embedding's, then the writing's. */
function counterSlot(r: Reporter) {
  let bar = NO_PROGRESS;
  return {
    start(label: string, total: number): void {
      bar.stop();
      bar = r.progress(label, total, 'docs');
    },
    tick: (n: number) => bar.tick(n),
    stop: () => bar.stop(),
  };
}

/** What `rg cluster` and `rg cluster show` print with --json: the clusters, their sizes and representatives. */
export function clusterSummary(model: ClusterModel, file: string) {
  return {
    file,
    k: model.k,
    dims: model.dims,
    seed: model.seed,
    documents: model.assignments.size,
    fittedOn: model.fittedOn,
    iterations: model.iterations,
    converged: model.converged,
    inertia: model.inertia,
    pick: model.pick,
    clusters: model.sizes.map((size, cluster) => ({
      cluster,
      size,
      representatives: model.representatives[cluster].map((rep) => rep.id),
    })),
  };
}

/** clusterSummary as lines for a person. */
export function formatClusterSummary(s: ReturnType<typeof clusterSummary>): string {
  const lines = [
    `${s.documents} documents in k=${s.k} clusters (seed ${s.seed}, fitted on ${s.fittedOn}, ${s.iterations} iterations${
      s.converged ? ', converged' : ', NOT converged: raise --max-iterations'
    })`,
    `inertia ${s.inertia.toPrecision(6)}; representatives picked by ${s.pick}`,
    'cluster  size  representatives',
  ];
  for (const c of s.clusters) {
    lines.push(`${String(c.cluster).padStart(7)}  ${String(c.size).padStart(4)}  ${c.representatives.join(', ')}`);
  }
  lines.push(`saved in ${s.file}`);
  return lines.join('\n');
}

/** evaluateK's reports as a table, with how to choose k. */
export function formatKReports(reports: KReport[]): string {
  const lines = ['    k      inertia  silhouette  smallest  largest'];
  for (const rep of reports) {
    lines.push(
      `${String(rep.k).padStart(5)}  ${rep.inertia.toPrecision(6).padStart(11)}  ${(rep.silhouette === null ? '-' : rep.silhouette.toFixed(4)).padStart(10)}  ${String(rep.minSize).padStart(8)}  ${String(rep.maxSize).padStart(7)}`,
    );
  }
  const n = reports[0]?.silhouetteSampleSize;
  if (n !== undefined) lines.push(`silhouette over ${n} documents; choose k at the elbow of inertia or the highest silhouette`);
  return lines.join('\n');
}
