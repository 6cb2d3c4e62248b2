import * as ort from 'onnxruntime-node';
import type { LoraTarget, ModelConfig, ModelWeights } from '../model/config.js';
import { DISTILL_IO } from './distill-loss.js';
import { buildTrainingGraph, TRAIN_IO, type TrainingGraph, type TrainingModule } from './graph.js';
import type { FloatType } from './ops.js';

/** A batch of token ids, right-padded: every array is [batch · seq], row-major. */
export interface TrainingBatch {
  batch: number;
  seq: number;
  inputIds: ArrayLike<number>;
  /** 1 = real token, 0 = padding. */
  attentionMask: ArrayLike<number>;
  /** Token id to predict at each position (as transformers' labels: shifted inside), -100 = ignored. */
  labels: ArrayLike<number>;
  /** Soft targets, for a session created with `distill` (see DISTILL_IO: entry t is about the token at position t). */
  teacher?: TeacherBatch;
}

/** The teacher's top-k per position of a TrainingBatch, row-major like its other arrays. */
export interface TeacherBatch {
  k: number;
  /** [batch · seq · k] token ids. */
  ids: ArrayLike<number>;
  /** [batch · seq · k] the teacher's probabilities of those ids (not renormalised: the rest is its tail mass). */
  probs: ArrayLike<number>;
  /** [batch · seq]: 1 = distil this position. */
  mask: ArrayLike<number>;
  /** λ in loss = CE + λ·KL. */
  weight: number;
}

/** PEFT parameters of one module: A [rank, in], B [out, rank] (B unscaled). */
export interface LoraParams {
  a: Float32Array | Float64Array;
  b: Float32Array | Float64Array;
}

export interface StepResult {
  loss: number;
  /** Gradients keyed `${layer}.${target}`, same layout as the parameters. */
  grads: Map<string, LoraParams>;
  /** Wall time inside session.run. */
  ortMs: number;
  /** Sessions created with `distill`: the batch's KL(teacher ‖ student), unweighted. */
  distillKl?: number;
}

/** A step of G adapters in one batch (stepAdapters): each adapter's own loss and gradients, in the adapters' order. */
export interface AdaptersStepResult {
  losses: number[];
  grads: Map<string, LoraParams>[];
  ortMs: number;
}

export interface TrainingSessionOptions {
  targets: readonly LoraTarget[];
  layers?: readonly number[];
  dtype?: FloatType;
  threads?: number;
  /** Build the G-adapters graph (see TrainingGraphOptions): train with stepAdapters instead of step. */
  batchedAdapters?: boolean;
  /** Build the graph with soft targets (TrainingGraphOptions.distill): every batch then needs `teacher`. */
  distill?: boolean;
  /**
   * Gradient checkpointing (TrainingGraphOptions.checkpoint): the layers' activations are recomputed in the backward
   * pass instead of kept, for long sequences on little memory; ~30% slower steps, the same gradients.
   */
  checkpoint?: boolean;
  /** Write ORT's per-op profile to files starting with this path (written by `endProfiling`). */
  profile?: string;
  /** ORT's CPU memory arena (default on: faster steps for ~10% more peak memory; see `create`). */
  memoryArena?: boolean;
  /** ORT's memory pattern (one planned block per input shape; default off, see `create`). */
  memoryPattern?: boolean;
}

/**
 * An ORT session over the training graph. The base weights are wrapped as tensors once and fed
 * unchanged on every step (ORT reads them in place); only the batch and the LoRA tensors change.
 */
export class TrainingSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly graph: TrainingGraph,
    private readonly weightFeeds: Record<string, ort.Tensor>,
  ) {}

  static async create(config: ModelConfig, weights: ModelWeights, options: TrainingSessionOptions): Promise<TrainingSession> {
    const graph = buildTrainingGraph(config, options);
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of graph.weightNames) {
      const t = weights.get(name);
      if (!t) throw new Error(`training graph: weight '${name}' missing from the model`);
      feeds[name] = new ort.Tensor(graph.dtype, graph.dtype === 'float64' ? Float64Array.from(t.data) : t.data, t.dims);
    }
    const threads = options.threads ?? 0;
    const session = await ort.InferenceSession.create(graph.bytes, {
      // ORT's contrib fusions (e.g. x·sigmoid(x) → QuickGelu) have float32 kernels only.
      graphOptimizationLevel: graph.dtype === 'float64' ? 'basic' : 'all',
      // Softmax over the vocabulary underflows to denormals, and a Gemm over denormal gradients ran
      // ~10x slower (measured: 5.7 s vs 0.6 s for the LM head backward). They are below 1e-38: flush them.
      // The pool stops spinning when a step returns (runtime/session.ts): a server that trains in-process answers
      // requests between steps, and on few cores a spinning pool thread would take their core.
      extra: { session: { set_denormal_as_zero: '1', force_spinning_stop: '1' } },
      executionMode: 'sequential',
      // The arena keeps its high-water mark of activations (peak RSS at batch 4 x 256 on SmolLM2-135M: 5.06 GB with
      // it, 4.57 GB without), but without it every op's output is a fresh allocation the kernel must fault in: on a
      // quiet machine a step of seq 256 took 1.43 s without and 1.14-1.23 s with it (tools/experiments/profile-train.mjs).
      enableCpuMemArena: options.memoryArena ?? true,
      // ORT's memory pattern plans one block per input shape after a first run and allocates it whole from the arena on
      // the next runs; with the arena's chunks of the first run still held, the arena grows by the block again, and every
      // new sequence length adds one. Off (quiet machine, SmolLM2-135M, gate/up/down): seq 256 1.96 -> 1.41 GB peak RSS
      // and 139-158 -> 158-168 tokens/s; seq 1,024 6.7 -> 3.9 GB and 88 -> 138 tokens/s (tools/experiments/profile-train.mjs).
      enableMemPattern: options.memoryPattern ?? false,
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      ...(options.profile ? { enableProfiling: true, profileFilePrefix: options.profile } : {}),
    });
    return new TrainingSession(session, graph, feeds);
  }

  /** Write the profile of a session created with `profile` (ORT names the file). */
  endProfiling(): void {
    this.session.endProfiling();
  }

  get modules(): TrainingModule[] {
    return this.graph.modules;
  }

  /** Loss and LoRA gradients for one batch at the given parameters (scale = alpha / rank). */
  async step(batch: TrainingBatch, params: Map<string, LoraParams>, scale: number): Promise<StepResult> {
    if (this.graph.batchedAdapters) throw new Error('training step: this session trains G adapters per batch, use stepAdapters');
    const feeds = this.batchFeeds(batch, scale);
    for (const m of this.graph.modules) {
      const p = moduleParams(params, m);
      feeds[m.a] = new ort.Tensor(this.graph.dtype, asType(p.a, this.graph.dtype), [p.rank, m.inFeatures]);
      feeds[m.b] = new ort.Tensor(this.graph.dtype, asType(p.b, this.graph.dtype), [m.outFeatures, p.rank]);
    }
    const t0 = performance.now();
    const out = await this.session.run(feeds);
    const ortMs = performance.now() - t0;
    const grads = new Map<string, LoraParams>();
    for (const m of this.graph.modules) {
      grads.set(`${m.layer}.${m.target}`, { a: out[m.gradA].data as Float32Array, b: out[m.gradB].data as Float32Array });
    }
    const distillKl = this.graph.distill ? Number(out[DISTILL_IO.distillKl].data[0]) : undefined;
    return { loss: Number(out[TRAIN_IO.loss].data[0]), grads, ortMs, distillKl };
  }

  /**
   * One step of G = adapters.length adapters of the same rank: the batch's sequences are split into G consecutive
   * equal groups and group g is run with adapters[g]. Each adapter's loss and gradients are those step() gives for
   * its group alone (a group with no scored token has loss 0 and zero gradients, where step() would give NaN).
   */
  async stepAdapters(batch: TrainingBatch, adapters: readonly Map<string, LoraParams>[], scale: number): Promise<AdaptersStepResult> {
    if (!this.graph.batchedAdapters) throw new Error('training step: this session trains one adapter, create it with batchedAdapters');
    const count = adapters.length;
    if (count === 0 || batch.batch % count !== 0)
      throw new Error(`training step: ${batch.batch} sequences do not split into ${count} equal adapter groups`);
    const { dtype } = this.graph;
    const feeds = this.batchFeeds(batch, scale);
    for (const m of this.graph.modules) {
      const parts = adapters.map((params) => moduleParams(params, m));
      const rank = parts[0].rank;
      if (parts.some((p) => p.rank !== rank)) throw new Error(`training step: the adapters' ranks differ at ${m.layer}.${m.target}`);
      const a = dtype === 'float64' ? new Float64Array(count * parts[0].a.length) : new Float32Array(count * parts[0].a.length);
      const b = dtype === 'float64' ? new Float64Array(count * parts[0].b.length) : new Float32Array(count * parts[0].b.length);
      parts.forEach((p, g) => {
        a.set(p.a, g * p.a.length);
        b.set(p.b, g * p.b.length);
      });
      feeds[m.a] = new ort.Tensor(dtype, a, [count, rank, m.inFeatures]);
      feeds[m.b] = new ort.Tensor(dtype, b, [count, m.outFeatures, rank]);
    }
    const t0 = performance.now();
    const out = await this.session.run(feeds);
    const ortMs = performance.now() - t0;
    const grads = adapters.map(() => new Map<string, LoraParams>());
    for (const m of this.graph.modules) {
      const ga = out[m.gradA].data as Float32Array | Float64Array;
      const gb = out[m.gradB].data as Float32Array | Float64Array;
      const na = ga.length / count;
      const nb = gb.length / count;
      grads.forEach((map, g) => {
        map.set(`${m.layer}.${m.target}`, { a: ga.subarray(g * na, (g + 1) * na), b: gb.subarray(g * nb, (g + 1) * nb) });
      });
    }
    return { losses: Array.from(out[TRAIN_IO.adapterLosses].data as Float32Array, Number), grads, ortMs };
  }

  private batchFeeds(batch: TrainingBatch, scale: number): Record<string, ort.Tensor> {
    const { dtype } = this.graph;
    const dims = [batch.batch, batch.seq];
    const n = batch.batch * batch.seq;
    for (const [field, arr] of Object.entries({ inputIds: batch.inputIds, attentionMask: batch.attentionMask, labels: batch.labels })) {
      if (arr.length !== n) throw new Error(`training batch: ${field} has ${arr.length} values, expected ${batch.batch}x${batch.seq}`);
    }
    const int64 = (a: ArrayLike<number>) => new ort.Tensor('int64', BigInt64Array.from(Array.from(a), BigInt), dims);
    const feeds: Record<string, ort.Tensor> = {
      ...this.weightFeeds,
      [TRAIN_IO.inputIds]: int64(batch.inputIds),
      [TRAIN_IO.attentionMask]: int64(batch.attentionMask),
      [TRAIN_IO.labels]: int64(batch.labels),
      [TRAIN_IO.loraScale]: new ort.Tensor(dtype, dtype === 'float64' ? Float64Array.of(scale) : Float32Array.of(scale), []),
    };
    if (this.graph.distill) Object.assign(feeds, teacherFeeds(batch, dtype));
    return feeds;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function teacherFeeds(batch: TrainingBatch, dtype: FloatType): Record<string, ort.Tensor> {
  const t = batch.teacher;
  if (!t) throw new Error('training batch: this session distils, the batch has no teacher targets');
  const n = batch.batch * batch.seq;
  if (!Number.isInteger(t.k) || t.k < 1) throw new Error(`training batch: teacher.k is ${t.k}, expected a positive integer`);
  for (const [field, arr, want] of [
    ['ids', t.ids, n * t.k],
    ['probs', t.probs, n * t.k],
    ['mask', t.mask, n],
  ] as const) {
    if (arr.length !== want) throw new Error(`training batch: teacher.${field} has ${arr.length} values, expected ${want}`);
  }
  const dims = [batch.batch, batch.seq, t.k];
  const float = (v: number) => new ort.Tensor(dtype, dtype === 'float64' ? Float64Array.of(v) : Float32Array.of(v), []);
  return {
    [DISTILL_IO.teacherIds]: new ort.Tensor('int64', BigInt64Array.from(Array.from(t.ids), BigInt), dims),
    [DISTILL_IO.teacherProbs]: new ort.Tensor(dtype, dtype === 'float64' ? Float64Array.from(t.probs) : Float32Array.from(t.probs), dims),
    [DISTILL_IO.teacherMask]: new ort.Tensor('int64', BigInt64Array.from(Array.from(t.mask), BigInt), [batch.batch, batch.seq]),
    [DISTILL_IO.distillWeight]: float(t.weight),
  };
}

function moduleParams(params: Map<string, LoraParams>, m: TrainingModule): LoraParams & { rank: number } {
  const p = params.get(`${m.layer}.${m.target}`);
  if (!p) throw new Error(`training step: no LoRA parameters for layer ${m.layer} ${m.target}`);
  const rank = p.a.length / m.inFeatures;
  if (!Number.isInteger(rank) || p.b.length !== rank * m.outFeatures) {
    throw new Error(
      `training step: LoRA ${m.layer}.${m.target} has A ${p.a.length} / B ${p.b.length} values, not [r, ${m.inFeatures}] / [${m.outFeatures}, r]`,
    );
  }
  return { ...p, rank };
}

function asType(a: Float32Array | Float64Array, dtype: FloatType): Float32Array | Float64Array {
  if (dtype === 'float64') return a instanceof Float64Array ? a : Float64Array.from(a);
  return a instanceof Float32Array ? a : Float32Array.from(a);
}
