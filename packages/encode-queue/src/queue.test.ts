import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdapterStore } from '@rg/adapter-store';
import { type LoadedModel, modelFingerprint } from '@rg/engine';
import { ADAPTER_MODEL_FILE } from '@rg/lora';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseQueueUrl } from './connection.js';
import { type CoordinatorOptions, documentGroups, runCoordinator } from './coordinator.js';
import { baseWeightKey } from './job.js';
import {
  buildForChildren,
  OPTIONS,
  records,
  scopeOf,
  singleProcessShas,
  storedShas,
  storeWithBase,
  tinyModel,
} from './test-helpers/fixtures.js';
import { type RedisServer, redisSkipReason, startRedisServer } from './testing.js';
import { type EncodeWorker, runEncodeWorker, startEncodeWorker } from './worker.js';

const skip = redisSkipReason();
if (skip) console.warn(`encode-queue: ${skip}`);

// Short locks so a killed worker's job comes back within ~3 s (defaults: 60 s / 30 s).
const LOCK = { lockDurationMs: 2000, stalledIntervalMs: 1000 };
const DOCS = records(6);

describe.skipIf(skip !== null)('encode queue on a real Redis', () => {
  let redis: RedisServer;
  let dir: string;
  let model: LoadedModel;
  let reference: Map<string, string>;
  let queues = 0;
  const open: Array<{ close(force?: boolean): Promise<void> }> = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    dir = mkdtempSync(join(tmpdir(), 'rg-encode-queue-'));
    model = await tinyModel(dir);
    reference = await singleProcessShas(join(dir, 'reference'), model, DOCS);
  });
  afterAll(async () => {
    for (const w of open) await w.close(true);
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A queue of its own per test, in the same Redis. */
  const newQueue = () => parseQueueUrl(`${redis.url}?queue=t${++queues}`);
  const worker = async (queue = newQueue(), name?: string, m = model): Promise<EncodeWorker> => {
    const w = await startEncodeWorker({ queue, model: m, threads: 1, lock: LOCK, name });
    open.push(w);
    return w;
  };
  const coordinator = (queue: ReturnType<typeof parseQueueUrl>, store: AdapterStore, extra: Partial<CoordinatorOptions> = {}) =>
    runCoordinator({
      queue,
      store,
      scope: scopeOf(model),
      modelFingerprint: modelFingerprint(model.config, model.source),
      groups: documentGroups(DOCS).groups,
      options: OPTIONS,
      pollMs: 50,
      ...extra,
    });

  it('two workers give the adapters single-process rg encode gives, bit for bit', async () => {
    const queue = newQueue();
    await worker(queue, 'w1');
    await worker(queue, 'w2');
    const store = storeWithBase(join(dir, 'e2e'), model);
    const summary = await coordinator(queue, store);
    expect(summary).toMatchObject({ committed: DOCS.length, alreadyStored: 0, enqueued: DOCS.length, failed: [], interrupted: false });
    expect(storedShas(store, scopeOf(model), DOCS)).toEqual(reference);
    const entry = store.get({ ...scopeOf(model), id: 'doc/1:weird id*' });
    expect(entry?.trainingConfig).toMatchObject({ documents: ['doc/1:weird id*'], recipe: { examples: 'qa', loss: 'answer' } });
    expect(['w1', 'w2']).toContain(entry?.trainingConfig.worker);
    expect(store.verify({ ...scopeOf(model), id: 'doc-0' }).ok).toBe(true);
    store.close();
  });

  it('runEncodeWorker counts what it trains and stops once the queue has been idle (rg worker --exit-when-idle)', async () => {
    const queue = newQueue();
    const run = await runEncodeWorker({ queue, model, threads: 1, lock: LOCK, name: 'batch', exitWhenIdleMs: 1500 });
    const store = storeWithBase(join(dir, 'run-worker'), model);
    try {
      expect(await coordinator(queue, store)).toMatchObject({ committed: DOCS.length, failed: [] });
      expect(await run.finished).toMatchObject({ worker: 'batch', done: DOCS.length, failed: 0 });
      expect(storedShas(store, scopeOf(model), DOCS)).toEqual(reference);
    } finally {
      store.close();
    }
    // stop() with nothing in hand ends the run at once.
    const idle = await runEncodeWorker({ queue: newQueue(), model, threads: 1, lock: LOCK });
    idle.stop();
    expect(await idle.finished).toMatchObject({ done: 0, failed: 0 });
    // stopOn: a SIGTERM of the emitter (the process, for rg worker) stops it, and the listeners go with the run.
    const signals = new EventEmitter();
    const signalled = await runEncodeWorker({ queue: newQueue(), model, threads: 1, lock: LOCK, stopOn: signals });
    expect([signals.listenerCount('SIGINT'), signals.listenerCount('SIGTERM')]).toEqual([1, 1]);
    signals.emit('SIGTERM');
    expect(await signalled.finished).toMatchObject({ done: 0, failed: 0 });
    expect([signals.listenerCount('SIGINT'), signals.listenerCount('SIGTERM')]).toEqual([0, 0]);
  });

  it('a worker killed with SIGKILL mid-job: the job goes to another worker, one valid adapter per document', async () => {
    const build = buildForChildren();
    const queue = newQueue();
    const url = `${redis.url}?queue=${queue.name}`;
    const store = storeWithBase(join(dir, 'sigkill'), model);
    const child = spawnChild(build, join(dir, 'tiny-llama'), url, 60_000);
    try {
      await child.line('ready');
      const run = coordinator(queue, store);
      const started = await child.line('start');
      child.process.kill('SIGKILL');
      await worker(queue, 'survivor');
      const summary = await run;
      expect(summary).toMatchObject({ committed: DOCS.length, failed: [] });
      const killedJob = started.split(' ')[1];
      const retried = summary.outcomes.find((o) => o.status === 'trained' && o.jobId === killedJob);
      expect(retried).toMatchObject({ worker: 'survivor' });
      expect(storedShas(store, scopeOf(model), DOCS)).toEqual(reference);
      expect(store.list({ dataset: 'test' }).length).toBe(DOCS.length);
    } finally {
      child.process.kill('SIGKILL');
      store.close();
    }
  });

  it('a restarted coordinator resumes: stored adapters and queued jobs are not enqueued again', async () => {
    const queue = newQueue();
    const store = storeWithBase(join(dir, 'restart'), model);
    await worker(queue);
    const stop = new AbortController();
    let commits = 0;
    const first = await coordinator(queue, store, {
      signal: stop.signal,
      onCommitted: () => {
        if (++commits === 2) stop.abort();
      },
    });
    expect(first).toMatchObject({ interrupted: true, committed: 2, enqueued: DOCS.length });
    const second = await coordinator(queue, store);
    expect(second).toMatchObject({
      alreadyStored: 2,
      enqueued: 0,
      requeued: 0,
      committed: DOCS.length - 2,
      failed: [],
      interrupted: false,
    });
    expect(storedShas(store, scopeOf(model), DOCS)).toEqual(reference);
    const third = await coordinator(queue, store);
    expect(third).toMatchObject({ alreadyStored: DOCS.length, enqueued: 0, committed: 0 });
    store.close();
  });

  it('a result for an adapter already committed is dropped, the stored adapter left as it was', async () => {
    const queue = newQueue();
    const store = storeWithBase(join(dir, 'duplicate'), model);
    await worker(queue);
    // Dies between put and removing the job: the job and its result stay in Redis.
    const crashed = coordinator(queue, store, {
      onCommitted: (id) => {
        throw new Error(`crash after storing ${id}`);
      },
    });
    await expect(crashed).rejects.toThrow(/crash after storing/);
    const committed = DOCS.find((d) => store.get({ ...scopeOf(model), id: d.passageId }));
    const key = { ...scopeOf(model), id: committed?.passageId as string };
    const before = store.get(key)?.createdAt;
    const summary = await coordinator(queue, store);
    expect(summary).toMatchObject({ alreadyStored: 1, duplicatesDropped: 1, committed: DOCS.length - 1, failed: [] });
    expect(store.get(key)?.createdAt).toBe(before);
    expect(storedShas(store, scopeOf(model), DOCS)).toEqual(reference);
    store.close();
  });

  it('refuses a job for another model or another base_weight, naming both', async () => {
    const other = await tinyModel(dir, 'other-model');
    const queue = newQueue();
    const store = storeWithBase(join(dir, 'mismatch'), model);
    await worker(queue, 'wrong-model', other);
    const summary = await coordinator(queue, store, { attempts: 1, groups: documentGroups(DOCS.slice(0, 2)).groups });
    expect(summary.committed).toBe(0);
    expect(summary.failed).toHaveLength(2);
    expect(summary.failed[0].error).toContain(
      `trained for model ${modelFingerprint(model.config, model.source)}, this worker loaded ${modelFingerprint(other.config, other.source)}`,
    );

    const queue2 = newQueue();
    const client = new Redis(queue2.redis);
    const tamper = coordinator(queue2, store, {
      attempts: 1,
      groups: documentGroups(DOCS.slice(0, 1)).groups,
      onProgress: () => {},
    });
    // The coordinator publishes the base_weight before it enqueues: once the job is queued, put other bytes there.
    for (;;) {
      const keys = await client.keys(`${queue2.prefix}:${queue2.name}:rg-base:*`);
      const waiting = await client.llen(`${queue2.prefix}:${queue2.name}:wait`);
      if (keys.length === 1 && waiting === 1) {
        const bytes = (await client.hgetBuffer(keys[0], ADAPTER_MODEL_FILE)) as Buffer;
        bytes[bytes.length - 1] ^= 1;
        await client.hset(keys[0], ADAPTER_MODEL_FILE, bytes);
        expect(keys[0]).toBe(baseWeightKey(queue2, keys[0].split(':').pop() as string));
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await worker(queue2);
    const refused = await tamper;
    client.disconnect();
    expect(refused.committed).toBe(0);
    expect(refused.failed[0].error).toMatch(
      /base_weight: the job asks for adapter_model.safetensors sha256 [0-9a-f]{64}, the copy in Redis .* hashes to [0-9a-f]{64}: refusing/,
    );
    store.close();
  });
});

function spawnChild(build: string, modelDir: string, url: string, holdMs: number) {
  const script = fileURLToPath(new URL('./test-helpers/child-worker.mjs', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, [script, build, modelDir, url, String(holdMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  return {
    process: child,
    /** The first line starting with `prefix` (waits for it). */
    async line(prefix: string): Promise<string> {
      for (;;) {
        const found = lines.find((l) => l.startsWith(prefix));
        if (found) return found;
        if (child.exitCode !== null) throw new Error(`child worker exited (${child.exitCode}) before printing "${prefix}"`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    },
  };
}
