import type { LoraTarget } from '@rg/engine';
import { NO_PROGRESS, type Reporter } from './reported.js';
import { trainWarmupAdapter, type WarmupAdapterSummary } from './warmup-adapter.js';
import { type WarmupPairs, warmupPairs } from './warmup-pairs.js';

/** What the warm-up trains on and with: rg adapter warmup's flags, resolved. */
export interface WarmupRequest {
  /** Dataset spec (jsonl: with an absolute path), its data folder, the split (default: @rg/pipeline defaultWarmupSplit). */
  spec: string;
  dataDir: string;
  split?: string;
  /** Pairs (a seeded sample of the split, less the `exclude` sample an evaluation asks). */
  n: number;
  exclude?: { sample: number; seed: number };
  store: string;
  /** Dataset segment of the store key (default: the dataset's name). */
  adapterDataset?: string;
  rank: number;
  alpha: number;
  lr: number;
  epochs: number;
  targets: LoraTarget[];
  batchSize: number;
  gradAccumulation: number;
  seed: number;
  maxTokens: number;
}

/**
 * The warm-up's question -> answer pairs chosen (warmupPairs), then trainWarmupAdapter (a stored warm-up of the same
 * pairs and settings kept), counted in pairs; its summary (rg adapter warmup --json) and line. The trainer's errors
 * pass through.
 */
export async function warmupReported(
  reporter: Reporter,
  config: { model: string; home: string; threads: number },
  r: WarmupRequest,
): Promise<{ summary: Record<string, unknown>; line: string }> {
  const chosen: WarmupPairs = warmupPairs(r.spec, { dataDir: r.dataDir, split: r.split, n: r.n, seed: r.seed, exclude: r.exclude });
  const { dataset, split, pairs, excluded } = chosen;
  if (pairs.length < r.n)
    reporter.info(`--n ${r.n}: the ${split} split has ${chosen.candidates} questions left to train on; using all of them`);
  let bar = NO_PROGRESS;
  let s: WarmupAdapterSummary;
  try {
    s = await trainWarmupAdapter(
      {
        model: config.model,
        home: config.home,
        threads: config.threads,
        store: r.store,
        dataset: r.adapterDataset ?? dataset.name,
        rank: r.rank,
        alpha: r.alpha,
        targets: r.targets,
        training: {
          lr: r.lr,
          epochs: r.epochs,
          seed: r.seed,
          batchSize: r.batchSize,
          gradAccumulation: r.gradAccumulation,
          maxTokens: r.maxTokens,
        },
        pairs,
        source: { dataset: dataset.name, split },
      },
      {
        onNote: (text) => reporter.info(text),
        onStart: (n) => {
          bar = reporter.progress('warmup', n * r.epochs, 'pairs');
        },
        onBatch: (loss) => bar.tick(r.batchSize, { note: `loss ${loss.toFixed(3)}` }),
      },
    );
  } finally {
    bar.stop();
  }
  const { key, path, sha256 } = s;
  if (s.status === 'skipped')
    return {
      summary: { store: r.store, key, path, sha256, status: 'skipped', pairs: s.pairs },
      line: `warm-up adapter already stored for these ${s.pairs} questions and settings -> ${path}`,
    };
  const summary = {
    store: r.store,
    key,
    path,
    sha256,
    dataset: dataset.name,
    split,
    pairs: s.trainedPairs,
    excludedQuestions: excluded,
    droppedPairs: s.droppedPairs,
    lossFirstTenth: s.lossFirstTenth,
    lossLastTenth: s.lossLastTenth,
    seconds: s.seconds,
    status: 'trained',
  };
  const line = `warm-up adapter trained on ${summary.pairs} ${dataset.name} ${split} questions (loss ${summary.lossFirstTenth.toFixed(3)} -> ${summary.lossLastTenth.toFixed(3)}) in ${summary.seconds} s -> ${summary.path}`;
  return { summary, line };
}
