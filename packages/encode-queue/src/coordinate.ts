import { AdapterStore, type DocAdapterKey } from '@rg/adapter-store';
import { type LoraTarget, loadModelConfig, modelFingerprint, modelKeyName } from '@rg/engine';
import { type EncodeOptions, loadOrInitBaseWeight, type Recipe, type TrainingGroup } from '@rg/lora-trainer';
import { parseQueueUrl } from './connection.js';
import { type QueueOutcome, runCoordinator } from './coordinator.js';

/** Where the coordinator reports (the shape of @rg/pipeline's Reporter; this package does not depend on it). */
export interface CoordinateReporter {
  info(line: string): void;
  progress(label: string, total: number, unit: string): { tick(n?: number): void; stop(): void };
}

export interface CoordinateOptions {
  /** The model as given (name, .gguf or folder): its config, not its weights (the workers train). */
  model: string;
  home: string;
  /** The adapter store folder; this process is its only writer. */
  store: string;
  /** Redis URL of the queue (redis://HOST:PORT/N); a malformed one is a QueueUrlError. */
  queue: string;
  /** The store key's dataset segment, and the LoRA shape of the model's base_weight. */
  dataset: string;
  rank: number;
  alpha: number;
  targets: LoraTarget[];
  /** Seed of the base_weight when none is stored. */
  seed: number;
  training: EncodeOptions;
  /** The recipe recorded with the adapters (for the summary). */
  recipe: Recipe;
  /** One job (one adapter) each: passages, or clusters' representatives. */
  groups: readonly TrainingGroup[];
  /** Outcomes decided before the queue (e.g. reserved ids), counted with the rest. */
  refused?: readonly QueueOutcome[];
  unit: 'passages' | 'clusters';
  /** Stops collecting; queued jobs stay, and the same call collects them later. */
  signal?: AbortSignal;
  /** No line per trained adapter, no queue line (e.g. --json). */
  terse?: boolean;
  /** A status line this often, for logs where no counter is drawn; absent: none. */
  statusEveryMs?: number;
}

/** What a coordination did (rg encode --queue's summary, with `unit: total`). */
export interface CoordinateSummary {
  store: string;
  queue: string;
  scope: Omit<DocAdapterKey, 'id'>;
  mode: EncodeOptions['mode'];
  recipe: Recipe;
  unit: 'passages' | 'clusters';
  total: number;
  trained: number;
  skipped: number;
  failed: number;
  failedIds: string[];
  failedJobs: Array<{ id: string; jobId?: string; error: string }>;
  enqueued: number;
  requeued: number;
  duplicatesDropped: number;
  interrupted: boolean;
  seconds: number;
  docsPerSecond: number;
}

/**
 * The coordinator of a queue encode (rg encode --queue, rg cluster train --queue), reported: the model's identity from
 * its config, the base_weight stored as a local encode would (initialised when missing), a job per group, each
 * worker's adapter verified and stored as it comes back, a line per outcome. The trainer's errors (another base_weight
 * or recipe stored) and QueueUrlError pass through; whether every group failing is an error is the caller's to say.
 */
export async function coordinateReported(r: CoordinateReporter, o: CoordinateOptions): Promise<CoordinateSummary> {
  const refused = o.refused ?? [];
  const total = o.groups.length + refused.length;
  const queue = parseQueueUrl(o.queue);
  const { config, source } = await loadModelConfig(o.model, { home: o.home, pull: true });
  const modelName = modelKeyName(source);
  const fingerprint = modelFingerprint(config, source);
  const store = AdapterStore.open(o.store);
  const clusters = o.unit === 'clusters';
  const bar = r.progress(`${clusters ? 'cluster adapters' : 'encode'} (queue)`, total, clusters ? 'clusters' : 'docs');
  try {
    loadOrInitBaseWeight(store, config, { modelName, fingerprint, rank: o.rank, alpha: o.alpha, targets: o.targets, seed: o.seed }, (key) =>
      r.info(`no base_weight for ${key.model} rank=${key.rank} alpha=${key.alpha}: initialised one (seed ${o.seed})`),
    );
    const scope = { model: modelName, rank: o.rank, alpha: o.alpha, dataset: o.dataset, lr: o.training.lr, epochs: o.training.epochs };
    let done = 0;
    const say = (outcome: QueueOutcome) => {
      done++;
      bar.tick();
      if (outcome.status === 'failed') r.info(`FAILED ${outcome.id}${outcome.jobId ? ` (job ${outcome.jobId})` : ''}: ${outcome.error}`);
      else if (outcome.status === 'trained' && !o.terse)
        r.info(
          `[${done}/${total}] ${outcome.id}: ${outcome.examples} examples, loss ${outcome.finalLoss.toFixed(3)}, ${outcome.trainSeconds.toFixed(1)} s on ${outcome.worker}`,
        );
    };
    for (const outcome of refused) say(outcome);
    let lastLine = 0;
    const s = await runCoordinator({
      onConnected: () => {
        if (!o.terse) r.info(`queue ${queue.display}: ${o.groups.length} ${o.unit}; start workers with: rg worker --queue ${o.queue}`);
      },
      queue,
      store,
      scope,
      modelFingerprint: fingerprint,
      groups: o.groups,
      options: o.training,
      signal: o.signal,
      onOutcome: say,
      onProgress: (p) => {
        if (o.terse || o.statusEveryMs === undefined || performance.now() - lastLine < o.statusEveryMs) return;
        lastLine = performance.now();
        const eta =
          p.etaSeconds === null ? '?' : p.etaSeconds >= 90 ? `${(p.etaSeconds / 60).toFixed(1)} min` : `${Math.round(p.etaSeconds)} s`;
        r.info(
          `queue: ${p.committed}/${p.total} done, ${p.failed} failed, ${p.waiting} waiting, ${p.active} active | ${p.docsPerSecond.toFixed(2)} docs/s, ETA ${eta}`,
        );
      },
    });
    bar.stop();
    const failedJobs = [...refused.map((f) => ({ id: f.id, error: f.status === 'failed' ? f.error : '' })), ...s.failed];
    return {
      store: store.root,
      queue: s.queue,
      scope,
      mode: o.training.mode,
      recipe: o.recipe,
      unit: o.unit,
      total,
      trained: s.committed,
      skipped: s.alreadyStored,
      failed: failedJobs.length,
      failedIds: failedJobs.map((f) => f.id),
      failedJobs,
      enqueued: s.enqueued,
      requeued: s.requeued,
      duplicatesDropped: s.duplicatesDropped,
      interrupted: s.interrupted,
      seconds: s.seconds,
      docsPerSecond: s.docsPerSecond,
    };
  } finally {
    bar.stop();
    store.close();
  }
}
