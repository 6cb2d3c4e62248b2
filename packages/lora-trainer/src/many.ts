import { type LoraParams, seededRandom, type TrainingSession } from '@rg/engine';
import { AdamW } from './adamw.js';
import { collate, scoredTokens, shuffled, type TrainingExample } from './batching.js';
import type { TrainOptions, TrainResult } from './trainer.js';

export interface TrainManyOptions extends Omit<TrainOptions, 'onBatch' | 'onCheckpoint' | 'resume'> {
  /** Documents trained together in one pass (G): one adapter per group of `batchSize` sequences. */
  docsPerPass: number;
  /** After every pass: its adapters' losses and the input tokens it ran (padding included). */
  onPass?: (info: { losses: number[]; tokens: number; ortMs: number }) => void;
  /** When a document's training ends, with its index in the input. */
  onDocument?: (index: number, outcome: DocumentTraining) => void;
}

/** A trained document's result.ortMs and totalMs are its shares of the passes it ran in (see DocumentRun.absorb). */
export type DocumentTraining = { status: 'trained'; result: TrainResult } | { status: 'failed'; error: string };

export interface TrainManyResult {
  /** One per document, in the input's order. */
  documents: DocumentTraining[];
  passes: number;
  /** Input tokens run through the graph over all passes (every row, padding included). */
  tokens: number;
  ortMs: number;
  totalMs: number;
}

/**
 * Trains one adapter per document, `docsPerPass` documents per pass of a session created with `batchedAdapters`.
 * Every document runs the micro-batches, optimizer steps and seeded shuffles trainAdapter would give it alone (with
 * its own AdamW), so each result is the one trainAdapter gives for that document, up to fp32 rounding; only the
 * passes are shared. A pass is one micro-batch of each document in its slot; a document that is done leaves its
 * slot to the next one, so documents with fewer examples waste no rows. Documents are queued by step count, then
 * by example length, so documents that run together finish together and pad their sequences little.
 */
export async function trainMany(
  session: TrainingSession,
  init: Map<string, LoraParams>,
  documents: readonly (readonly TrainingExample[])[],
  options: TrainManyOptions,
): Promise<TrainManyResult> {
  const t0 = performance.now();
  if (!(Number.isInteger(options.docsPerPass) && options.docsPerPass >= 1))
    throw new Error(`trainMany: docsPerPass must be a positive integer, got ${options.docsPerPass}`);
  const keys = session.modules.map((m) => `${m.layer}.${m.target}`);
  for (const key of keys) if (!init.has(key)) throw new Error(`trainMany: the init adapter has no module ${key}`);
  const outcomes: DocumentTraining[] = new Array(documents.length);
  const finish = (index: number, outcome: DocumentTraining) => {
    outcomes[index] = outcome;
    options.onDocument?.(index, outcome);
  };
  const queue = packingOrder(documents, options);
  const slots: Array<{ index: number; run: DocumentRun } | null> = new Array(options.docsPerPass).fill(null);
  let passes = 0;
  let tokens = 0;
  let ortMs = 0;
  for (;;) {
    for (let s = 0; s < slots.length; s++) {
      while (!slots[s] && queue.length > 0) {
        const index = queue.shift() as number;
        if (documents[index].length === 0) {
          finish(index, { status: 'failed', error: 'no training examples' });
          continue;
        }
        const run = new DocumentRun(keys, init, documents[index], options);
        if (run.done) finish(index, { status: 'trained', result: run.result() });
        else slots[s] = { index, run };
      }
    }
    const passStart = performance.now();
    const active = slots.flatMap((slot, s) => (slot ? [{ ...slot, s, batch: slot.run.current() }] : []));
    if (active.length === 0) break;
    // Every adapter's group holds as many sequences as the largest micro-batch; empty ones pad the rest.
    const perGroup = Math.max(...active.map((a) => a.batch.length));
    const rows = active.flatMap((a) => [...a.batch, ...new Array<TrainingExample>(perGroup - a.batch.length).fill(EMPTY)]);
    const batch = collate(rows, options.padId);
    const r = await session.stepAdapters(
      batch,
      active.map((a) => a.run.params),
      options.scale,
    );
    const passShare = (performance.now() - passStart) / active.length;
    passes++;
    tokens += batch.batch * batch.seq;
    ortMs += r.ortMs;
    options.onPass?.({ losses: r.losses, tokens: batch.batch * batch.seq, ortMs: r.ortMs });
    active.forEach((a, g) => {
      // Alone, a micro-batch without scored tokens has loss 0/0; here its group reads 0. Fail it as trainAdapter does.
      const loss = a.batch.some((e) => scoredTokens(e) > 0) ? r.losses[g] : Number.NaN;
      if (!Number.isFinite(loss)) {
        finish(a.index, { status: 'failed', error: `training: loss is ${loss} (an example without answer tokens, or divergence)` });
        slots[a.s] = null;
        return;
      }
      a.run.absorb(loss, r.grads[g], r.ortMs / active.length, passShare);
      if (a.run.done) {
        finish(a.index, { status: 'trained', result: a.run.result() });
        slots[a.s] = null;
      }
    });
  }
  return { documents: outcomes, passes, tokens, ortMs, totalMs: performance.now() - t0 };
}

const EMPTY: TrainingExample = { inputIds: [], labels: [] };

/** Document indices, most micro-batches first, then longest examples first. */
function packingOrder(documents: readonly (readonly TrainingExample[])[], options: TrainManyOptions): number[] {
  const epochs = options.mode === 'gradient' ? 1 : options.epochs;
  const key = documents.map((examples) => ({
    steps: epochs * Math.ceil(examples.length / options.batchSize),
    length: examples.reduce((sum, e) => sum + e.inputIds.length, 0) / Math.max(1, examples.length),
  }));
  return documents.map((_, i) => i).sort((i, j) => key[j].steps - key[i].steps || key[j].length - key[i].length || i - j);
}

/**
 * One document's training, advanced one micro-batch per pass: the same epochs, seeded shuffles, gradient
 * accumulation and AdamW steps as trainAdapter's loop, which it must stay in step with.
 */
class DocumentRun {
  readonly params = new Map<string, LoraParams>();
  private readonly optimizer: AdamW | null;
  private readonly random: () => number;
  private readonly epochs: number;
  private readonly accumulation: number;
  private epoch = 0;
  private order: TrainingExample[];
  private batchIndex = 0;
  private readonly sum = new Map<string, { a: Float64Array; b: Float64Array }>();
  private pending = 0;
  private readonly losses: number[] = [];
  private tokens = 0;
  private ortMs = 0;
  private totalMs = 0;

  constructor(
    private readonly keys: string[],
    init: Map<string, LoraParams>,
    private readonly examples: readonly TrainingExample[],
    private readonly options: TrainManyOptions,
  ) {
    for (const key of keys) {
      const p = init.get(key) as LoraParams;
      this.params.set(key, { a: Float32Array.from(p.a), b: Float32Array.from(p.b) });
    }
    this.optimizer =
      options.mode === 'lora'
        ? new AdamW(this.flat(this.params), { lr: options.lr, betas: options.betas, eps: options.eps, weightDecay: options.weightDecay })
        : null;
    this.accumulation = options.mode === 'gradient' ? Number.POSITIVE_INFINITY : Math.max(1, options.gradAccumulation ?? 1);
    this.epochs = options.mode === 'gradient' ? 1 : options.epochs;
    this.random = seededRandom(options.seed ?? 0);
    this.order = this.drawOrder();
    this.resetSum();
  }

  get done(): boolean {
    return this.epoch >= this.epochs;
  }

  private get batches(): number {
    return Math.ceil(this.order.length / this.options.batchSize);
  }

  /** The micro-batch this document runs in the next pass. */
  current(): TrainingExample[] {
    const size = this.options.batchSize;
    return this.order.slice(this.batchIndex * size, (this.batchIndex + 1) * size);
  }

  /**
   * Takes the pass's result for this document. `ortMs` and `passMs` are its shares of the pass (split evenly among
   * the documents in it), so the documents' ortMs and totalMs add up to the run's.
   */
  absorb(loss: number, grads: Map<string, LoraParams>, ortMs: number, passMs: number): void {
    const t0 = performance.now();
    const alone = collate(this.current(), this.options.padId);
    this.losses.push(loss);
    this.tokens += alone.batch * alone.seq;
    this.ortMs += ortMs;
    for (const [k, g] of grads) {
      const s = this.sum.get(k) as { a: Float64Array; b: Float64Array };
      for (let j = 0; j < g.a.length; j++) s.a[j] += g.a[j];
      for (let j = 0; j < g.b.length; j++) s.b[j] += g.b[j];
    }
    this.pending++;
    const lastOfEpoch = this.batchIndex === this.batches - 1;
    if (this.optimizer && (this.pending === this.accumulation || lastOfEpoch)) {
      this.optimizer.step(this.averaged());
      this.resetSum();
    }
    this.batchIndex++;
    if (lastOfEpoch) {
      this.epoch++;
      this.batchIndex = 0;
      if (!this.done) this.order = this.drawOrder();
    }
    this.totalMs += passMs + performance.now() - t0;
  }

  result(): TrainResult {
    let tensors = this.params;
    if (this.options.mode === 'gradient') {
      const g = this.averaged();
      tensors = new Map(this.keys.map((k, i) => [k, { a: Float32Array.from(g[2 * i]), b: Float32Array.from(g[2 * i + 1]) }]));
    }
    return {
      mode: this.options.mode,
      tensors,
      losses: this.losses,
      optimizerSteps: this.optimizer?.stepCount ?? 0,
      tokens: this.tokens,
      ortMs: this.ortMs,
      totalMs: this.totalMs,
    };
  }

  private drawOrder(): TrainingExample[] {
    return this.options.mode === 'lora' ? shuffled(this.examples, this.random) : [...this.examples];
  }

  private flat(m: Map<string, LoraParams | { a: Float64Array; b: Float64Array }>): Array<Float32Array | Float64Array> {
    return this.keys.flatMap((k) => [m.get(k)?.a, m.get(k)?.b] as Array<Float32Array | Float64Array>);
  }

  private resetSum(): void {
    for (const [k, p] of this.params) this.sum.set(k, { a: new Float64Array(p.a.length), b: new Float64Array(p.b.length) });
    this.pending = 0;
  }

  private averaged(): Array<Float32Array | Float64Array> {
    const n = this.pending;
    return this.flat(new Map([...this.sum].map(([k, s]) => [k, { a: s.a.map((v) => v / n), b: s.b.map((v) => v / n) }])));
  }
}
