import { type AdapterStore, type DocAdapterKey, describeKey } from '@rg/adapter-store';
import { ADAPTER_MODEL_FILE, decodePeftAdapter } from '@rg/lora';
import { type EncodeOptions, type RecipeRecord, reservedAdapterId, resolveRecipe, type TrainingGroup } from '@rg/lora-trainer';
import { type Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { closeClient, connectRedis, type QueueTarget } from './connection.js';
import { checkModules, checkRecipes, checkSupported, publishBaseWeight, storedFor } from './coordinator-checks.js';
import { type EncodeJobData, type EncodeJobResult, JOB_FORMAT, jobIdOf, sha256 } from './job.js';

export type QueueOutcome =
  | {
      id: string;
      status: 'trained';
      jobId: string;
      examples: number;
      tokens: number;
      finalLoss: number;
      trainSeconds: number;
      worker: string;
    }
  | { id: string; status: 'skipped'; reason: string }
  | { id: string; status: 'failed'; jobId?: string; error: string };

export interface QueueProgress {
  /** Adapters of this run to train (not already stored). */
  total: number;
  committed: number;
  failed: number;
  /** Jobs of the whole queue waiting (delayed retries included) and being trained. */
  waiting: number;
  active: number;
  /** Committed adapters per second of wall time since the jobs were enqueued. */
  docsPerSecond: number;
  /** Seconds left at that rate (null before the first adapter). */
  etaSeconds: number | null;
}

export interface CoordinatorOptions {
  queue: QueueTarget;
  /** The adapter store this coordinator alone writes. */
  store: AdapterStore;
  /** Store key without the id (model, rank, alpha, dataset, lr, epochs): the base_weight is `{model, rank, alpha}`. */
  scope: Omit<DocAdapterKey, 'id'>;
  modelFingerprint: string;
  groups: readonly TrainingGroup[];
  options: EncodeOptions;
  /** Tries per job before it is reported failed (default 3); a dead worker's job is retried by the stalled check. */
  attempts?: number;
  /** How often finished jobs are looked for when nothing happened (default 250 ms). */
  pollMs?: number;
  /** Stops collecting (jobs stay queued; the same run started again collects them). */
  signal?: AbortSignal;
  /** Redis answered and the jobs are about to be enqueued: the moment to tell people to start workers. */
  onConnected?: () => void;
  onProgress?: (progress: QueueProgress) => void;
  onOutcome?: (outcome: QueueOutcome) => void;
  /** An adapter was stored (after `put`, before its job is removed). Awaited. */
  onCommitted?: (id: string) => void | Promise<void>;
}

export interface CoordinatorSummary {
  queue: string;
  /** Groups given. */
  groups: number;
  alreadyStored: number;
  /** Jobs added to the queue by this run (others were there already, from an earlier run). */
  enqueued: number;
  /** Failed jobs of an earlier run put back. */
  requeued: number;
  committed: number;
  /** Results for adapters already stored (an earlier coordinator stopped between put and removing the job). */
  duplicatesDropped: number;
  failed: Array<{ id: string; jobId?: string; error: string }>;
  /** Stopped by the signal before every job was collected. */
  interrupted: boolean;
  seconds: number;
  docsPerSecond: number;
  outcomes: QueueOutcome[];
}

interface Pending {
  jobId: string;
  group: TrainingGroup;
  key: DocAdapterKey;
  data: EncodeJobData;
}

/**
 * One job per group, the training run's identity in each (scope, recipe, seed, model fingerprint, base_weight sha256);
 * then collects the workers' results and stores them. It is the store's only writer, so AdapterStore's crash safety
 * holds as for `rg encode`: a result is checked (sha256 of the bytes, modules of the base_weight's shape) and `put`,
 * and only then is its job removed. Restarted with the same groups it resumes: stored adapters (same recipe, same
 * documents, verified) are not enqueued again, jobs still queued are not added twice (ids are content hashes),
 * failed ones are put back, and results of adapters already stored are dropped.
 */
export async function runCoordinator(options: CoordinatorOptions): Promise<CoordinatorSummary> {
  const t0 = performance.now();
  const { store, scope, queue: target } = options;
  const recipe = resolveRecipe(options.options.recipe);
  const encodeOptions: EncodeOptions = { ...options.options, recipe };
  const outcomes: QueueOutcome[] = [];
  const emit = (o: QueueOutcome) => {
    outcomes.push(o);
    options.onOutcome?.(o);
  };

  checkSupported(recipe);
  checkRecipes(options.groups, store, scope, recipe);
  const redis = await connectRedis(target);
  options.onConnected?.();
  const queue = new Queue<EncodeJobData, EncodeJobResult>(target.name, { connection: target.redis, prefix: target.prefix });
  queue.on('error', () => {});
  try {
    const base = await publishBaseWeight(store, scope, redis, target);
    const pending = new Map<string, Pending>();
    // Job ids of adapters stored before this run: a completed job for one of them is a duplicate.
    const stored = new Set<string>();
    let alreadyStored = 0;
    for (const group of options.groups) {
      const key: DocAdapterKey = { ...scope, id: group.adapterId };
      const data: EncodeJobData = {
        format: JOB_FORMAT,
        adapterId: group.adapterId,
        records: group.records.map((r) => ({ passageId: r.passageId, passage: r.passage, rewrite: r.rewrite, qa: r.qa })),
        metadata: group.metadata,
        options: encodeOptions,
        scope,
        modelFingerprint: options.modelFingerprint,
        baseWeight: base.ref,
      };
      const jobId = jobIdOf(data);
      if (storedFor(store, key, group, options.modelFingerprint)) {
        alreadyStored++;
        stored.add(jobId);
        emit({ id: group.adapterId, status: 'skipped', reason: 'already stored' });
      } else pending.set(jobId, { jobId, group, key, data });
    }

    const attempts = options.attempts ?? 3;
    const jobOptions = (jobId: string) => ({
      jobId,
      attempts,
      backoff: { type: 'fixed' as const, delay: 1000 },
      removeOnComplete: false,
      removeOnFail: false,
    });
    let requeued = 0;
    const toAdd: Pending[] = [];
    for (const p of pending.values()) {
      const job = await queue.getJob(p.jobId);
      if (!job) toAdd.push(p);
      else if ((await job.getState()) === 'failed') {
        await job.remove();
        toAdd.push(p);
        requeued++;
      }
    }
    for (let i = 0; i < toAdd.length; i += 500) {
      await queue.addBulk(toAdd.slice(i, i + 500).map((p) => ({ name: 'adapter', data: p.data, opts: jobOptions(p.jobId) })));
    }
    const enqueued = toAdd.length - requeued;

    const total = pending.size;
    const tRun = performance.now();
    let committed = 0;
    let duplicatesDropped = 0;
    const failed: CoordinatorSummary['failed'] = [];
    // A result whose bytes are gone or damaged is trained again, once per run.
    const retried = new Set<string>();
    const progress = async () => {
      if (!options.onProgress) return;
      const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
      const docsPerSecond = committed / Math.max((performance.now() - tRun) / 1000, 1e-3);
      const left = pending.size;
      options.onProgress({
        total,
        committed,
        failed: failed.length,
        waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0),
        active: counts.active ?? 0,
        docsPerSecond,
        etaSeconds: committed > 0 ? left / docsPerSecond : null,
      });
    };
    const fail = (p: Pending, error: string) => {
      pending.delete(p.jobId);
      failed.push({ id: p.group.adapterId, jobId: p.jobId, error });
      emit({ id: p.group.adapterId, status: 'failed', jobId: p.jobId, error });
    };

    const collect = async (job: Job<EncodeJobData, EncodeJobResult>): Promise<'ours' | 'foreign'> => {
      const jobId = job.id as string;
      const result = job.returnvalue;
      if (stored.has(jobId)) {
        duplicatesDropped++;
        await dropJob(job, redis, result);
        return 'ours';
      }
      const p = pending.get(jobId);
      if (!p) return 'foreign';
      const bytes = result?.resultKey ? await redis.getBuffer(result.resultKey) : null;
      const problem = !result
        ? 'the job finished without a result'
        : !bytes
          ? `its bytes are no longer in Redis (${result.resultKey})`
          : bytes.length !== result.bytes || sha256(bytes) !== result.sha256
            ? `its bytes (${bytes.length}, sha256 ${sha256(bytes)}) are not what the worker reported (${result.bytes}, sha256 ${result.sha256})`
            : checkModules(bytes, base.adapter, base.configText, jobId);
      if (problem) {
        await dropJob(job, redis, result);
        if (retried.has(jobId)) fail(p, `result of job ${jobId} refused: ${problem}`);
        else {
          retried.add(jobId);
          await queue.add('adapter', p.data, jobOptions(jobId));
        }
        return 'ours';
      }
      const adapter = decodePeftAdapter(base.configText, bytes as Buffer, `result of job ${jobId}`);
      const entry = store.put(p.key, adapter, {
        modelFingerprint: options.modelFingerprint,
        mode: encodeOptions.mode === 'lora' ? 'trained' : 'gradient',
        // What storeTrained of @rg/lora-trainer records, plus the worker that trained it.
        trainingConfig: {
          ...encodeOptions,
          ...p.group.metadata,
          recipe,
          documents: p.group.records.map((r) => r.passageId),
          trainSeconds: result.trainSeconds,
          examples: result.examples,
          droppedExamples: result.dropped,
          losses: result.losses,
          worker: result.worker,
        },
      });
      if (entry.files[ADAPTER_MODEL_FILE]?.sha256 !== result.sha256) {
        // put encodes what was decoded; another byte string would mean the two ends encode differently.
        store.delete(p.key);
        fail(p, `${describeKey(p.key)}: stored bytes hash to ${entry.files[ADAPTER_MODEL_FILE]?.sha256}, the worker's to ${result.sha256}`);
      } else {
        committed++;
        pending.delete(jobId);
        emit({
          id: p.group.adapterId,
          status: 'trained',
          jobId,
          examples: result.examples,
          tokens: result.tokens,
          finalLoss: result.losses[result.losses.length - 1],
          trainSeconds: result.trainSeconds,
          worker: result.worker,
        });
        await options.onCommitted?.(p.group.adapterId);
      }
      // Only now: a coordinator that dies before this finds the job again and drops it as a duplicate.
      await dropJob(job, redis, result);
      return 'ours';
    };

    await progress();
    let lastProgress = performance.now();
    while (pending.size > 0 && !options.signal?.aborted) {
      let handled = 0;
      for (const state of ['completed', 'failed'] as const) {
        let foreign = 0;
        for (;;) {
          const jobs = (await queue.getJobs([state], foreign, foreign + 99, true)) as Job<EncodeJobData, EncodeJobResult>[];
          if (jobs.length === 0) break;
          let ours = 0;
          for (const job of jobs) {
            if (!job?.id) continue;
            if (state === 'completed') {
              if ((await collect(job)) === 'ours') ours++;
              else foreign++;
            } else {
              const p = pending.get(job.id);
              if (p) {
                ours++;
                // Kept in Redis to be looked at; the next run with these inputs puts it back.
                fail(p, job.failedReason || 'failed without a reason');
              } else foreign++;
            }
            if (options.signal?.aborted) break;
          }
          handled += ours;
          if (options.signal?.aborted || (state === 'failed' && ours === 0 && jobs.length < 100)) break;
          if (state === 'failed') foreign += ours;
        }
      }
      if (handled > 0 || performance.now() - lastProgress > 1000) {
        await progress();
        lastProgress = performance.now();
      }
      if (handled === 0 && pending.size > 0) await sleep(options.pollMs ?? 250, options.signal);
    }
    await progress();
    const seconds = (performance.now() - t0) / 1000;
    return {
      queue: target.display,
      groups: options.groups.length,
      alreadyStored,
      enqueued,
      requeued,
      committed,
      duplicatesDropped,
      failed,
      interrupted: pending.size > 0,
      seconds: Math.round(seconds * 10) / 10,
      docsPerSecond: committed / Math.max((performance.now() - tRun) / 1000, 1e-3),
      outcomes,
    };
  } finally {
    // A run with nothing to enqueue closes the queue before its connection has finished its start-up INFO; BullMQ
    // then rejects that INFO where no caller can catch it (an unhandled "Connection is closed."). Wait for it first.
    await queue.waitUntilReady().catch(() => {});
    await queue.close();
    await closeClient(redis);
  }
}

/**
 * A group per document, id = passage id, as `encodeDocuments` makes them; a document whose id is reserved (the DAPT
 * or a cluster adapter's) is refused with the same words.
 */
export function documentGroups(records: readonly RecipeRecord[]): { groups: TrainingGroup[]; refused: QueueOutcome[] } {
  const groups: TrainingGroup[] = [];
  const refused: QueueOutcome[] = [];
  for (const record of records) {
    const reserved = reservedAdapterId(record.passageId);
    if (reserved)
      refused.push({
        id: record.passageId,
        status: 'failed',
        error: `document id "${record.passageId}" is reserved for ${reserved} in the same store scope: rename the document`,
      });
    else groups.push({ adapterId: record.passageId, records: [record] });
  }
  return { groups, refused };
}

async function dropJob(job: Job, redis: Redis, result: EncodeJobResult | undefined): Promise<void> {
  await job.remove();
  if (result?.resultKey) await redis.del(result.resultKey);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}
