import { type LoraParams, seededRandom, type TrainingSession } from '@rg/engine';
import type { LoraAdapter, LoraPair } from '@rg/lora';
import { AdamW, type AdamWState } from './adamw.js';
import { collate, shuffled, type TrainingExample } from './batching.js';
import { isDistillExample, teacherBatch } from './distill.js';

/**
 * 'lora': train A and B with AdamW from the init adapter.
 * 'gradient': one backward pass at the init adapter, no optimizer; the result is the raw gradient
 * (the "retrievable gradients" variant: inference applies init - gamma · gradient).
 */
export type TrainMode = 'lora' | 'gradient';

export interface TrainOptions {
  mode: TrainMode;
  /** alpha / rank, PEFT's scale. */
  scale: number;
  lr: number;
  epochs: number;
  batchSize: number;
  /** Micro-batches whose gradients are averaged into one optimizer step. */
  gradAccumulation?: number;
  /** Shuffles the examples each epoch. */
  seed?: number;
  weightDecay?: number;
  betas?: [number, number];
  eps?: number;
  padId?: number;
  /**
   * λ in loss = CE + λ·KL for a session built with `distill` (default 1); the distillation examples
   * (distill.ts) must have their teacher targets (computeTeacherTargets).
   */
  distillWeight?: number;
  /**
   * Awaited before every micro-batch: a yield point. A process that also answers requests (apps/server) pauses
   * training here while requests are in flight, so that a request waits for at most one micro-batch, not a document.
   */
  beforeBatch?: () => Promise<void> | void;
  /** Called after every micro-batch; `distillKl` with a distilling session. */
  onBatch?: (info: { loss: number; tokens: number; ortMs: number; distillKl?: number }) => void;
  /** 'lora' mode: called after every optimizer step with the state an interrupted run resumes from. */
  onCheckpoint?: (checkpoint: TrainCheckpoint) => void;
  /** Go on from a checkpoint of a run with the same examples and options (the result is the uninterrupted run's). */
  resume?: TrainCheckpoint;
}

/** Where a 'lora' run stands after an optimizer step: enough to go on as if it had not stopped. */
export interface TrainCheckpoint {
  /** The next micro-batch to run: epoch and index in that epoch's (seeded) order. */
  epoch: number;
  batch: number;
  tensors: Map<string, LoraParams>;
  optimizer: AdamWState;
  losses: number[];
  tokens: number;
}

export interface TrainResult {
  mode: TrainMode;
  /** 'lora': the trained A/B. 'gradient': dL/dA and dL/dB at the init, averaged over the micro-batches. */
  tensors: Map<string, LoraParams>;
  /** Loss of every micro-batch, in order. */
  losses: number[];
  optimizerSteps: number;
  /** Input tokens run through the graph (padding included). */
  tokens: number;
  ortMs: number;
  totalMs: number;
}

/**
 * Runs the training session batch after batch; only the LoRA tensors change between runs.
 * Both modes share this loop: gradient mode is one epoch whose averaged gradient is the result.
 */
export async function trainAdapter(
  session: TrainingSession,
  init: Map<string, LoraParams>,
  examples: readonly TrainingExample[],
  options: TrainOptions,
): Promise<TrainResult> {
  const t0 = performance.now();
  if (examples.length === 0) throw new Error('trainAdapter: no training examples');
  const distilled = examples.filter(isDistillExample);
  if (distilled.length > 0 && !session.graph.distill)
    throw new Error('trainAdapter: distillation examples need a session created with distill (TrainingSessionOptions.distill)');
  const topK = distilled[0]?.distill.targets?.k ?? 1;
  const keys = session.modules.map((m) => `${m.layer}.${m.target}`);
  const params = new Map<string, LoraParams>();
  for (const key of keys) {
    const p = init.get(key);
    if (!p) throw new Error(`trainAdapter: the init adapter has no module ${key}`);
    params.set(key, { a: Float32Array.from(p.a), b: Float32Array.from(p.b) });
  }
  const flat = (m: Map<string, LoraParams>) => keys.flatMap((k) => [m.get(k)?.a, m.get(k)?.b] as Array<Float32Array | Float64Array>);
  const optimizer =
    options.mode === 'lora'
      ? new AdamW(flat(params), { lr: options.lr, betas: options.betas, eps: options.eps, weightDecay: options.weightDecay })
      : null;
  const accumulation = options.mode === 'gradient' ? Number.POSITIVE_INFINITY : Math.max(1, options.gradAccumulation ?? 1);
  const epochs = options.mode === 'gradient' ? 1 : options.epochs;
  const random = seededRandom(options.seed ?? 0);
  const resume = options.mode === 'lora' ? options.resume : undefined;
  if (resume) {
    for (const key of keys) {
      const saved = resume.tensors.get(key);
      const p = params.get(key) as LoraParams;
      if (!saved || saved.a.length !== p.a.length || saved.b.length !== p.b.length)
        throw new Error(`trainAdapter: the checkpoint has no module ${key} of this shape`);
      p.a.set(saved.a);
      p.b.set(saved.b);
    }
    optimizer?.restore(resume.optimizer);
  }

  const sum = new Map<string, { a: Float64Array; b: Float64Array }>();
  let pending = 0;
  const resetSum = () => {
    for (const [k, p] of params) sum.set(k, { a: new Float64Array(p.a.length), b: new Float64Array(p.b.length) });
    pending = 0;
  };
  const averaged = () => flat(new Map([...sum].map(([k, s]) => [k, { a: s.a.map((v) => v / pending), b: s.b.map((v) => v / pending) }])));
  resetSum();

  const losses: number[] = resume ? [...resume.losses] : [];
  let tokens = resume?.tokens ?? 0;
  let ortMs = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    // Every epoch's order is drawn, also the ones a resumed run skips, so the seeded orders are the same.
    const order = options.mode === 'lora' ? shuffled(examples, random) : [...examples];
    if (resume && epoch < resume.epoch) continue;
    const batches = Math.ceil(order.length / options.batchSize);
    for (let i = resume && epoch === resume.epoch ? resume.batch : 0; i < batches; i++) {
      await options.beforeBatch?.();
      const rows = order.slice(i * options.batchSize, (i + 1) * options.batchSize);
      const batch = collate(rows, options.padId);
      if (session.graph.distill) batch.teacher = teacherBatch(batch, rows, topK, options.distillWeight ?? 1);
      const r = await session.step(batch, params, options.scale);
      if (!Number.isFinite(r.loss)) throw new Error(`training: loss is ${r.loss} (an example without answer tokens, or divergence)`);
      losses.push(r.loss);
      tokens += batch.batch * batch.seq;
      ortMs += r.ortMs;
      options.onBatch?.({ loss: r.loss, tokens: batch.batch * batch.seq, ortMs: r.ortMs, distillKl: r.distillKl });
      for (const [k, g] of r.grads) {
        const s = sum.get(k) as { a: Float64Array; b: Float64Array };
        for (let j = 0; j < g.a.length; j++) s.a[j] += g.a[j];
        for (let j = 0; j < g.b.length; j++) s.b[j] += g.b[j];
      }
      pending++;
      const lastOfEpoch = i === batches - 1;
      if (optimizer && (pending === accumulation || lastOfEpoch)) {
        optimizer.step(averaged());
        resetSum();
        options.onCheckpoint?.({
          epoch: lastOfEpoch ? epoch + 1 : epoch,
          batch: lastOfEpoch ? 0 : i + 1,
          tensors: new Map([...params].map(([k, p]) => [k, { a: Float32Array.from(p.a), b: Float32Array.from(p.b) }])),
          optimizer: optimizer.state(),
          losses: [...losses],
          tokens,
        });
      }
    }
  }
  let tensors = params;
  if (options.mode === 'gradient') {
    const g = averaged();
    tensors = new Map(keys.map((k, i) => [k, { a: Float32Array.from(g[2 * i]), b: Float32Array.from(g[2 * i + 1]) }]));
  }
  return { mode: options.mode, tensors, losses, optimizerSteps: optimizer?.stepCount ?? 0, tokens, ortMs, totalMs: performance.now() - t0 };
}

/** A training run's A/B as an adapter of the base_weight's config and shapes (what the store writes). */
export function trainedAdapter(base: LoraAdapter, result: TrainResult): LoraAdapter {
  const modules = new Map<string, LoraPair>();
  for (const [k, t] of result.tensors) {
    const pair = base.modules.get(k) as LoraPair;
    modules.set(k, { inFeatures: pair.inFeatures, outFeatures: pair.outFeatures, a: Float32Array.from(t.a), b: Float32Array.from(t.b) });
  }
  return { config: base.config, modules };
}
