import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdapterStore } from '@rg/adapter-store';
import { type RedisServer, redisSkipReason, startRedisServer } from '@rg/encode-queue/testing';
import { ADAPTER_MODEL_FILE } from '@rg/lora';
import { clusterStore } from '@rg/pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { augmentedLine } from '../test-helpers/augmented.js';
import { writeTinyModel } from '../test-helpers/tiny-model.js';
import { runCli } from '../test-helpers.js';

const skip = redisSkipReason();
if (skip) console.warn(`rg worker: ${skip}`);

describe('rg encode --queue and rg worker', () => {
  it('refuse a --queue that is not a Redis URL, and --dapt on a queue', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-worker-usage-'));
    const model = writeTinyModel(join(dir, 'tiny-llama'));
    const input = join(dir, 'aug.jsonl');
    writeFileSync(input, `${augmentedLine('a', 'One lighthouse.', [{ question: 'How many?', answer: 'One' }])}\n`);
    const worker = await runCli(['--model', model, 'worker', '--queue', 'localhost:6379']);
    expect(worker.code).toBe(2);
    expect(worker.stderr).toContain('--queue localhost:6379: scheme localhost: (expected redis:// or rediss://)');
    // No Redis at the address: one line naming it and exit 2, not ioredis retrying (and printing a stack) forever.
    for (const argv of [['worker'], ['encode', '--input', input]]) {
      const r = await runCli(['--model', model, ...argv, '--queue', 'redis://127.0.0.1:1/0']);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('rg: error: --queue redis://127.0.0.1:1/0: no Redis answers there (ECONNREFUSED)\n');
    }
    const dapt = await runCli(['--model', model, 'encode', '--input', input, '--queue', 'redis://127.0.0.1:1/0', '--dapt']);
    expect(dapt.code).toBe(2);
    expect(dapt.stderr).toContain('--queue: --dapt trains one adapter');
    // --concurrency: the worker processes fail at their start, and that is said once, not restarted for ever.
    const bin = join(import.meta.dirname, '../../bin/rg.js');
    const many = spawnSync(process.execPath, [bin, '--model', model, 'worker', '--concurrency', '2', '--queue', 'redis://127.0.0.1:1/0'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(many.status, many.stderr).toBe(2);
    expect(many.stderr).toContain('no Redis answers there (ECONNREFUSED)');
    expect(many.stderr).toMatch(/a worker process ended \(exit 2\) .* not restarted/);
    expect(many.stderr).not.toContain('starting another');
    rmSync(dir, { recursive: true, force: true });
  }, 90_000);

  describe.skipIf(skip !== null)('on a real Redis', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it('a coordinator and a worker store what rg encode stores, bit for bit; the JSON summaries say so', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rg-worker-'));
      const model = writeTinyModel(join(dir, 'tiny-llama'));
      const input = join(dir, 'aug.jsonl');
      const ids = ['a', 'b/2', 'c'];
      writeFileSync(
        input,
        `${ids.map((id, i) => augmentedLine(id, `Passage ${i} has ${i + 2} towers.`, [{ question: `How many towers in ${i}?`, answer: String(i + 2) }])).join('\n')}\n`,
      );
      const train = ['--lr', '1e-3', '--epochs', '2', '--json'];
      const plain = await runCli(['--model', model, 'encode', '--input', input, '--store', join(dir, 'plain'), ...train]);
      expect(plain.code, plain.stderr).toBe(0);

      const url = `${redis.url}?queue=cli`;
      const worker = runCli(['--model', model, 'worker', '--queue', url, '--exit-when-idle', '2', '--json']);
      const coordinator = await runCli([
        '--model',
        model,
        'encode',
        '--input',
        input,
        '--store',
        join(dir, 'queued'),
        '--queue',
        url,
        ...train,
      ]);
      expect(coordinator.code, coordinator.stderr).toBe(0);
      expect(JSON.parse(coordinator.stdout)).toMatchObject({
        passages: 3,
        trained: 3,
        skipped: 0,
        failed: 0,
        enqueued: 3,
        interrupted: false,
      });
      const w = await worker;
      expect(w.code, w.stderr).toBe(0);
      expect(JSON.parse(w.stdout)).toMatchObject({ done: 3, failed: 0 });

      const a = AdapterStore.open(join(dir, 'plain'));
      const b = AdapterStore.open(join(dir, 'queued'));
      for (const id of ids) {
        const key = { model: 'tiny-llama', rank: 2, alpha: 32, dataset: 'aug', lr: 1e-3, epochs: 2, id };
        expect(b.get(key)?.files[ADAPTER_MODEL_FILE].sha256).toBe(a.get(key)?.files[ADAPTER_MODEL_FILE].sha256);
      }
      a.close();
      b.close();

      const again = await runCli(['--model', model, 'encode', '--input', input, '--store', join(dir, 'queued'), '--queue', url, ...train]);
      expect(JSON.parse(again.stdout)).toMatchObject({ trained: 0, skipped: 3, enqueued: 0 });
      rmSync(dir, { recursive: true, force: true });
    });

    it('rg cluster train --queue: a job per cluster, stored as rg cluster train stores it, bit for bit', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rg-worker-clusters-'));
      const model = writeTinyModel(join(dir, 'tiny-llama'));
      const corpus = join(dir, 'corpus');
      mkdirSync(corpus);
      // Two clusters from hand-made vectors: {a, b} and {c}.
      await clusterStore(
        corpus,
        [
          { id: 'a', vector: [0, 0] },
          { id: 'b', vector: [0, 1] },
          { id: 'c', vector: [9, 9] },
        ],
        { k: 2, seed: 0, representatives: 2, pick: 'centroid', maxIterations: 100, tolerance: 1e-6, refit: false },
      );
      const input = join(dir, 'aug.jsonl');
      writeFileSync(
        input,
        `${['a', 'b', 'c'].map((id, i) => augmentedLine(id, `Passage ${id} has ${i + 2} towers.`, [{ question: `How many towers in ${id}?`, answer: String(i + 2) }])).join('\n')}\n`,
      );
      const train = ['cluster', 'train', '--store', corpus, '--input', input, '--lr', '1e-3', '--epochs', '2', '--json'];
      const plain = await runCli(['--model', model, ...train, '--adapters', join(dir, 'plain')]);
      expect(plain.code, plain.stderr).toBe(0);

      const url = `${redis.url}?queue=clusters`;
      const worker = runCli(['--model', model, 'worker', '--queue', url, '--exit-when-idle', '2', '--json']);
      const coordinator = await runCli(['--model', model, ...train, '--adapters', join(dir, 'queued'), '--queue', url]);
      expect(coordinator.code, coordinator.stderr).toBe(0);
      expect(JSON.parse(coordinator.stdout)).toMatchObject({ clusters: 2, trained: 2, failed: 0, enqueued: 2 });
      expect((await worker).code).toBe(0);

      const a = AdapterStore.open(join(dir, 'plain'));
      const b = AdapterStore.open(join(dir, 'queued'));
      for (const id of ['cluster-k2-0', 'cluster-k2-1']) {
        const key = { model: 'tiny-llama', rank: 2, alpha: 32, dataset: 'aug', lr: 1e-3, epochs: 2, id };
        expect(b.get(key)?.files[ADAPTER_MODEL_FILE].sha256).toBe(a.get(key)?.files[ADAPTER_MODEL_FILE].sha256);
        expect(b.get(key)?.trainingConfig).toMatchObject({
          cluster: a.get(key)?.trainingConfig.cluster,
          documents: a.get(key)?.trainingConfig.documents,
        });
      }
      a.close();
      b.close();
      rmSync(dir, { recursive: true, force: true });
    });
  });
});
