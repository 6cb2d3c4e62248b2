import { median } from '@rg/bench-kit';
import { type LoraParams, type LoraTarget, loadModel, seededRandom, TrainingSession } from '@rg/engine';
import { checkGgufForPeer, checkPythonPeer, type PythonPeer, runPeer } from '@rg/engine/bench';
import { AdamW } from '../adamw.js';
import { DEFAULT_TARGETS, initAdapter } from '../init.js';

export interface TrainBenchOptions {
  /** A known model name, a .gguf file or a Hugging Face folder (loadModel's spec); pulled when known and missing. */
  model: string;
  /** Where known models live (RG_HOME). */
  home: string;
  /** onnxruntime intra-op threads (also the peer's). */
  threads: number;
  /** Tokens per sequence. */
  seq: number;
  /** Sequences per step. */
  batch: number;
  rank: number;
  alpha: number;
  targets: readonly LoraTarget[];
  /** Timed steps (median reported). */
  steps: number;
  /** Untimed steps first. */
  warmup: number;
  /** PyTorch + PEFT on the same GGUF (tools/bench/train_peer.py); null: none. */
  peer: PythonPeer | null;
}

export const TRAIN_BENCH_DEFAULTS = {
  seq: 256,
  batch: 1,
  rank: 2,
  alpha: 32,
  targets: DEFAULT_TARGETS,
  steps: 20,
  warmup: 2,
} as const satisfies Partial<TrainBenchOptions>;

/** What the peer script prints. */
export interface PeerTrainFigures {
  peer: string;
  msPerStep: number;
  tokensPerSecond: number;
  peakRssMb: number;
  threads: number;
}

export interface TrainBenchResult {
  model: string;
  seq: number;
  batch: number;
  rank: number;
  alpha: number;
  targets: readonly LoraTarget[];
  steps: number;
  rg: {
    /** Median over the timed steps. */
    msPerStep: number;
    tokensPerSecond: number;
    /** Share of the step time spent inside onnxruntime (forward + backward); the rest is JS (AdamW, feeds). */
    ortShare: number;
    jsShare: number;
    sessionCreateMs: number;
    peakRssMb: number;
  };
  peer: PeerTrainFigures | null;
  /** rg's tokens/s over the peer's. */
  speedup: number | null;
  /** rg's peak RSS over the peer's. */
  memoryRatio: number | null;
}

/**
 * LoRA training steps (forward + backward in onnxruntime, AdamW in JS) on seeded random tokens: ms/step, tokens/s,
 * ORT vs JS share, peak RSS; the PyTorch + PEFT peer on the same GGUF and sizes in the same run.
 */
export async function trainBench(options: TrainBenchOptions): Promise<TrainBenchResult> {
  // Before any timing: a peer that is not installed fails the run at once, not after rg's minutes.
  if (options.peer) checkPythonPeer(options.peer);
  const model = await loadModel(options.model, { home: options.home, pull: true });
  if (options.peer) checkGgufForPeer(model.source, '--no-peer');
  const { targets, rank, alpha } = options;
  const tCreate = performance.now();
  const session = await TrainingSession.create(model.config, model.weights, { targets, threads: options.threads });
  const sessionCreateMs = performance.now() - tCreate;
  const adapter = initAdapter(model.config, { rank, alpha, targets, seed: 0 });
  const params = new Map<string, LoraParams>([...adapter.modules].map(([k, p]) => [k, { a: p.a, b: p.b }]));
  const optimizer = new AdamW(
    [...params.values()].flatMap((p) => [p.a, p.b]),
    { lr: 3e-4 },
  );
  const random = seededRandom(1);
  const n = options.batch * options.seq;
  const ids = Array.from({ length: n }, () => Math.floor(random() * model.config.vocabSize));
  const batch = { batch: options.batch, seq: options.seq, inputIds: ids, attentionMask: ids.map(() => 1), labels: ids };
  const stepMs: number[] = [];
  const ortMs: number[] = [];
  try {
    for (let i = 0; i < options.warmup + options.steps; i++) {
      const t0 = performance.now();
      const r = await session.step(batch, params, alpha / rank);
      optimizer.step([...r.grads.values()].flatMap((g) => [g.a, g.b]));
      if (i >= options.warmup) {
        stepMs.push(performance.now() - t0);
        ortMs.push(r.ortMs);
      }
    }
  } finally {
    await session.release();
  }
  const ms = median(stepMs);
  const ortShare = ortMs.reduce((a, b) => a + b, 0) / stepMs.reduce((a, b) => a + b, 0);
  const rg = {
    msPerStep: ms,
    tokensPerSecond: n / (ms / 1000),
    ortShare,
    jsShare: 1 - ortShare,
    sessionCreateMs,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
  const peer = options.peer
    ? runPeer<PeerTrainFigures>('PyTorch + PEFT', options.peer.python, [
        options.peer.script,
        ...['--gguf', model.source.path, '--seq', String(options.seq), '--batch', String(options.batch), '--rank', String(rank)],
        ...['--alpha', String(alpha), '--targets', targets.join(','), '--steps', String(options.steps)],
        ...['--warmup', String(options.warmup), '--threads', String(options.threads)],
      ])
    : null;
  return {
    model: options.model,
    seq: options.seq,
    batch: options.batch,
    rank,
    alpha,
    targets,
    steps: options.steps,
    rg,
    peer,
    speedup: peer ? rg.tokensPerSecond / Number(peer.tokensPerSecond) : null,
    memoryRatio: peer ? rg.peakRssMb / Number(peer.peakRssMb) : null,
  };
}
