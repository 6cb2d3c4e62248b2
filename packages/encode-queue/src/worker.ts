import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type LoadedModel, type LoraTarget, modelFingerprint, TrainingSession } from '@rg/engine';
import { ADAPTER_CONFIG_FILE, ADAPTER_MODEL_FILE, decodePeftAdapter, encodePeftAdapter, type LoraAdapter } from '@rg/lora';
import { recordsExamples, resolveRecipe, trainAdapter, trainedAdapter } from '@rg/lora-trainer';
import { type Job, Worker } from 'bullmq';
import { closeClient, connectRedis, type QueueTarget } from './connection.js';
import { BLOB_TTL_SECONDS, baseWeightKey, type EncodeJobData, type EncodeJobResult, JOB_FORMAT, resultKey, sha256 } from './job.js';

/**
 * BullMQ lock settings. `session.run` of onnxruntime-node blocks the event loop for a whole training step, and the
 * lock is renewed by a timer every lockDuration / 2: the lock must outlive the longest step with room to spare
 * (SmolLM2-135M steps take ~0.2-3 s here). A worker that dies (kill -9, lost machine) stops renewing; the stalled
 * check, every stalledInterval on each live worker, then puts its job back in the queue: within
 * lockDuration + stalledInterval (90 s by default). maxStalledCount: how often one job may be lost so before it
 * fails (each loss is a dead worker, not a bad job, so more than BullMQ's default of 1).
 */
export interface LockSettings {
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
}

export const DEFAULT_LOCK_SETTINGS: LockSettings = { lockDurationMs: 60_000, stalledIntervalMs: 30_000, maxStalledCount: 3 };

export interface WorkerHooks {
  /** A job was taken (before training). Awaited. */
  onJobStart?: (info: { jobId: string; adapterId: string; examples: number }) => void | Promise<void>;
  onJobDone?: (info: { jobId: string; adapterId: string; result: EncodeJobResult }) => void;
  onJobFailed?: (info: { jobId: string; adapterId: string; error: string }) => void;
}

export interface EncodeWorkerOptions {
  queue: QueueTarget;
  /** The model this worker trains with (`loadModel(spec, { pull: true })`); jobs for another fingerprint fail. */
  model: LoadedModel;
  /** onnxruntime intra-op threads of this worker's training session. */
  threads?: number;
  lock?: Partial<LockSettings>;
  hooks?: WorkerHooks;
  /** Shown in results and logs (default host:pid). */
  name?: string;
}

export interface EncodeWorker {
  readonly name: string;
  /** Finishes the job in hand, then disconnects (force: drop it; BullMQ's stalled check gives it to another worker). */
  close(force?: boolean): Promise<void>;
  /** Resolves once the queue has had no job for this worker for `idleMs`. */
  idle(idleMs: number): Promise<void>;
}

/** The job cannot be trained by this worker (other model or base_weight): said with both sides' identities. */
export class JobMismatchError extends Error {
  override name = 'JobMismatchError';
}

/**
 * Takes jobs one at a time (onnxruntime blocks the event loop: parallel jobs need processes, see the CLI's
 * `rg worker --concurrency`) and trains each as `encodeDocuments` / `encodeGroups` of @rg/lora-trainer would: the
 * same recipe examples, `trainAdapter` with the same options from the same base_weight, the adapter encoded as the
 * store encodes it. The result is the PEFT adapter_model.safetensors, stored in Redis beside the job with its sha256.
 */
export async function startEncodeWorker(options: EncodeWorkerOptions): Promise<EncodeWorker> {
  const { model, queue, hooks = {} } = options;
  const lock = { ...DEFAULT_LOCK_SETTINGS, ...options.lock };
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const fingerprint = modelFingerprint(model.config, model.source);
  if (!model.tokenizer.chatTemplate)
    throw new Error(`${model.source.path}: the model has no chat template, which the training recipe needs`);
  const blobs = await connectRedis(queue);
  const bases = new Map<string, { adapter: LoraAdapter; config: Uint8Array }>();
  let session: { targets: string; session: TrainingSession } | undefined;
  let lastActivity = Date.now();
  let busy = false;

  const sessionFor = async (targets: readonly string[]): Promise<TrainingSession> => {
    const key = [...targets].sort().join(',');
    if (session?.targets === key) return session.session;
    await session?.session.release();
    session = undefined;
    const created = await TrainingSession.create(model.config, model.weights, {
      targets: targets as LoraTarget[],
      threads: options.threads,
    });
    session = { targets: key, session: created };
    return created;
  };

  const baseFor = async (job: Job<EncodeJobData>): Promise<LoraAdapter> => {
    const ref = job.data.baseWeight;
    const cached = bases.get(ref.sha256);
    if (cached) return cached.adapter;
    const key = baseWeightKey(queue, ref.sha256);
    const [configBytes, modelBytes] = await blobs.hmgetBuffer(key, ADAPTER_CONFIG_FILE, ADAPTER_MODEL_FILE);
    if (!configBytes || !modelBytes)
      throw new JobMismatchError(
        `base_weight ${ref.sha256.slice(0, 12)}: not in Redis (${key}); the coordinator publishes it when it starts: restart it`,
      );
    const got = sha256(modelBytes);
    if (got !== ref.sha256 || sha256(configBytes) !== ref.configSha256)
      throw new JobMismatchError(
        `base_weight: the job asks for adapter_model.safetensors sha256 ${ref.sha256}, the copy in Redis (${key}) hashes to ${got}: refusing to train from another base_weight`,
      );
    const adapter = decodePeftAdapter(configBytes.toString('utf8'), modelBytes, `base_weight ${ref.sha256.slice(0, 12)}`);
    const targets = [...adapter.config.targetModules].sort().join(',');
    if (adapter.config.rank !== ref.rank || adapter.config.alpha !== ref.alpha || targets !== [...ref.targets].sort().join(','))
      throw new JobMismatchError(
        `base_weight ${ref.sha256.slice(0, 12)}: rank ${adapter.config.rank}, alpha ${adapter.config.alpha}, targets ${targets}; the job expects rank ${ref.rank}, alpha ${ref.alpha}, targets ${ref.targets.join(',')}`,
      );
    for (const k of adapter.modules.keys()) {
      const layer = Number(k.split('.')[0]);
      if (layer >= model.config.numLayers)
        throw new JobMismatchError(
          `base_weight ${ref.sha256.slice(0, 12)}: module ${k} does not exist in ${fingerprint} (${model.config.numLayers} layers)`,
        );
    }
    bases.set(ref.sha256, { adapter, config: configBytes });
    return adapter;
  };

  const processJob = async (job: Job<EncodeJobData>): Promise<EncodeJobResult> => {
    busy = true;
    try {
      const data = job.data;
      const jobId = job.id ?? '?';
      if (data.format !== JOB_FORMAT)
        throw new JobMismatchError(`job ${jobId}: format ${data.format}, this worker reads format ${JOB_FORMAT} (update rg on one side)`);
      if (data.modelFingerprint !== fingerprint)
        throw new JobMismatchError(
          `job ${jobId} (adapter "${data.adapterId}"): trained for model ${data.modelFingerprint}, this worker loaded ${fingerprint} from ${model.source.path} (start the worker with the coordinator's --model)`,
        );
      const base = await baseFor(job);
      const t0 = performance.now();
      const recipe = resolveRecipe(data.options.recipe);
      // The examples rg encode builds from the same records, and its message when there are none.
      const { examples, dropped } = recordsExamples(data.records, model.tokenizer, data.options, recipe);
      await hooks.onJobStart?.({ jobId, adapterId: data.adapterId, examples: examples.length });
      const trainingSession = await sessionFor(base.config.targetModules);
      const result = await trainAdapter(trainingSession, base.modules, examples, {
        ...data.options,
        scale: base.config.alpha / base.config.rank,
      });
      // fp32, as AdapterStore.put writes by default: the coordinator's put must give these very bytes.
      const bytes = encodePeftAdapter(trainedAdapter(base, result), 'fp32').model;
      const key = resultKey(queue, jobId, randomBytes(8).toString('hex'));
      await blobs.set(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'EX', BLOB_TTL_SECONDS);
      const out: EncodeJobResult = {
        resultKey: key,
        sha256: sha256(bytes),
        bytes: bytes.byteLength,
        examples: examples.length,
        dropped,
        tokens: result.tokens,
        losses: result.losses,
        trainSeconds: Math.round(performance.now() - t0) / 1000,
        worker: name,
      };
      hooks.onJobDone?.({ jobId, adapterId: data.adapterId, result: out });
      return out;
    } catch (e) {
      hooks.onJobFailed?.({ jobId: job.id ?? '?', adapterId: job.data?.adapterId ?? '?', error: (e as Error).message });
      throw e;
    } finally {
      busy = false;
      lastActivity = Date.now();
    }
  };

  const worker = new Worker<EncodeJobData, EncodeJobResult>(queue.name, processJob, {
    connection: queue.redis,
    prefix: queue.prefix,
    concurrency: 1,
    lockDuration: lock.lockDurationMs,
    stalledInterval: lock.stalledIntervalMs,
    maxStalledCount: lock.maxStalledCount,
    // Finished jobs stay until the coordinator has committed their adapters; it removes them.
    removeOnComplete: { count: Number.MAX_SAFE_INTEGER },
    removeOnFail: { count: Number.MAX_SAFE_INTEGER },
    // How long one idle wait blocks: short enough that close() is prompt.
    drainDelay: 2,
  });
  // Connection trouble is retried by ioredis; without a listener Node would treat the event as fatal.
  worker.on('error', () => {});
  await worker.waitUntilReady();

  return {
    name,
    async close(force = false) {
      await worker.close(force);
      await session?.session.release();
      await closeClient(blobs);
    },
    async idle(idleMs) {
      for (;;) {
        await new Promise((r) => setTimeout(r, Math.min(idleMs, 500)));
        if (busy) continue;
        const counts = await blobs.exists(
          ...['wait', 'active', 'delayed', 'prioritized'].map((list) => `${queue.prefix}:${queue.name}:${list}`),
        );
        if (counts > 0) lastActivity = Date.now();
        else if (Date.now() - lastActivity >= idleMs) return;
      }
    },
  };
}

/** What a worker run did (runEncodeWorker). */
export interface WorkerRunSummary {
  worker: string;
  done: number;
  failed: number;
  seconds: number;
}

/** A running worker: `stop()` finishes the job in hand; called again, drops it (another worker takes it up). */
export interface WorkerRun {
  readonly name: string;
  stop(): void;
  /** Resolves when the worker has stopped: by stop(), or after `exitWhenIdleMs` without a job. */
  readonly finished: Promise<WorkerRunSummary>;
}

/**
 * A worker as a process runs one (rg worker): started, counting the jobs it trains and fails, until stopped or, with
 * `exitWhenIdleMs`, until the queue has had no job for it that long (batch use). `stopOn` (e.g. `process`): its
 * SIGINT and SIGTERM call `stop()`, the listeners removed once the run has finished.
 */
export async function runEncodeWorker(
  options: EncodeWorkerOptions & { exitWhenIdleMs?: number; stopOn?: NodeJS.EventEmitter },
): Promise<WorkerRun> {
  const t0 = performance.now();
  let done = 0;
  let failed = 0;
  const hooks = options.hooks ?? {};
  const worker = await startEncodeWorker({
    ...options,
    hooks: {
      ...hooks,
      onJobDone: (info) => {
        done++;
        hooks.onJobDone?.(info);
      },
      onJobFailed: (info) => {
        failed++;
        hooks.onJobFailed?.(info);
      },
    },
  });
  let stops = 0;
  let stopped: () => void = () => {};
  const stopping = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const idle = options.exitWhenIdleMs === undefined ? stopping : Promise.race([stopping, worker.idle(options.exitWhenIdleMs)]);
  const finished = idle
    .then(() => worker.close(stops > 1))
    .then(() => ({ worker: worker.name, done, failed, seconds: Math.round((performance.now() - t0) / 100) / 10 }));
  const stop = () => {
    stops++;
    // The second stop drops the job in hand: BullMQ's stalled check gives it to another worker.
    if (stops > 1) void worker.close(true);
    stopped();
  };
  const signals = options.stopOn;
  signals?.on('SIGINT', stop).on('SIGTERM', stop);
  const unhook = () => signals?.removeListener('SIGINT', stop).removeListener('SIGTERM', stop);
  return { name: worker.name, stop, finished: finished.finally(unhook) };
}
