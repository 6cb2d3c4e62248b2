import type { AugmentedRecord } from '@rg/augment';
import type { JobRecord, JobStore } from './jobs.js';
import { augmentStep, encodeStep, Interrupted, indexStep, ingestStep, type StepContext } from './steps.js';
import { JOB_STEPS, type JobStep } from './types.js';

/**
 * Runs a collection's add jobs in this process, one at a time, oldest first. A job's progress is recorded after each
 * step; every step is idempotent, so a job resumed after a crash redoes at most the step it was in. The step lock is
 * shared with deletions: a deletion waits for the step in progress (interrupting it when it is the document's
 * training) and a later step checks, under the lock, that its job was not cancelled meanwhile.
 */
export class Runner {
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private idleWaiters: Array<() => void> = [];
  private current: { job: JobRecord; abort: AbortController } | undefined;
  private lock: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly jobs: JobStore,
    private readonly steps: StepContext,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  /** New work was recorded. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Stops the training of `documentId`'s running job, if any (its job was cancelled). */
  interrupt(documentId: string, why: string): void {
    if (this.current?.job.documentId === documentId) this.current.abort.abort(why);
  }

  /** Runs `fn` when no step is in progress, and keeps steps out until it is done. */
  exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.lock.then(fn);
    this.lock = result.catch(() => {});
    return result;
  }

  /** Resolves once no job is queued and none is running here. */
  whenIdle(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.wake();
    });
  }

  /** Takes no more jobs, interrupts the running one (it stays "running" in the table and is requeued at the next open). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.current?.abort.abort('the collection is closing');
    this.wake();
    await this.loop;
    this.notifyIdle();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const job = this.jobs.claim();
      if (!job) {
        this.notifyIdle();
        await new Promise<void>((resolve) => {
          this.wakeUp = resolve;
        });
        this.wakeUp = undefined;
        continue;
      }
      await this.runJob(job);
    }
  }

  private async runJob(job: JobRecord): Promise<void> {
    const abort = new AbortController();
    this.current = { job, abort };
    let record: AugmentedRecord | undefined = job.augmented;
    let step: JobStep = JOB_STEPS[job.completed] ?? 'encode';
    try {
      for (let i = job.completed; i < JOB_STEPS.length; i++) {
        step = JOB_STEPS[i];
        this.jobs.startStep(job.id, step);
        const ran = await this.exclusive(async () => {
          if (this.stopping || this.jobs.get(job.id)?.state !== 'running') return false;
          record = await this.runStep(step, job, record, abort.signal);
          return true;
        });
        if (!ran) return;
        this.jobs.finishStep(job.id, i + 1, step === 'augment' ? record : undefined);
      }
      this.jobs.finish(job.id, 'done');
    } catch (e) {
      // Closing or cancelled: not the job's failure (closing leaves it to be resumed, cancelling already ended it).
      if (e instanceof Interrupted) return;
      this.jobs.finish(job.id, 'failed', `${step}: ${(e as Error).message}`);
    } finally {
      this.current = undefined;
    }
  }

  private async runStep(
    step: JobStep,
    job: JobRecord,
    record: AugmentedRecord | undefined,
    signal: AbortSignal,
  ): Promise<AugmentedRecord | undefined> {
    switch (step) {
      case 'ingest':
        ingestStep(this.steps, job.document);
        return record;
      case 'index':
        await indexStep(this.steps, job.document);
        return record;
      case 'augment':
        return augmentStep(this.steps, job.document);
      case 'encode':
        // Resumed after the augment step's output was lost (a job row from before it was recorded): make it again.
        await encodeStep(this.steps, record ?? (await augmentStep(this.steps, job.document)), signal);
        return record;
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
