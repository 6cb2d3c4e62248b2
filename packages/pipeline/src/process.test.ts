import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdapterStore } from '@rg/adapter-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCollection } from './collection.js';
import { tinyRuntime } from './test-helpers/fixtures.js';
import type { ModelRuntime } from './types.js';

const HELPERS = fileURLToPath(new URL('./test-helpers/', import.meta.url));

let dir: string;
let runtime: ModelRuntime;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, runtime, cleanup } = await tinyRuntime('process'));
});
afterAll(async () => {
  await cleanup?.();
});

/** Runs encode-child.ts, waits until it is encoding (and a little more: training has begun), kills it with SIGKILL. */
function killMidEncode(folder: string): Promise<{ jobId: string; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=development',
      '--import',
      join(HELPERS, 'register-ts.mjs'),
      join(HELPERS, 'encode-child.ts'),
      folder,
      join(dir, 'tiny-llama'),
      join(dir, 'home'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  let jobId = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  child.stdout.on('data', (d) => {
    stdout += d;
    const m = /encoding (\S+)\n/.exec(stdout);
    if (m && !jobId) {
      jobId = m[1];
      setTimeout(() => child.kill('SIGKILL'), 300);
    }
  });
  return new Promise((resolve) => child.on('exit', (_code, signal) => resolve({ jobId, signal, stderr })));
}

describe('a process killed with SIGKILL mid-encode', () => {
  it('leaves a job that the next open resumes, ending with exactly one valid adapter', async () => {
    const folder = join(dir, 'killed');
    const { jobId, signal, stderr } = await killMidEncode(folder);
    expect(stderr).toBe('');
    expect(signal).toBe('SIGKILL');
    expect(jobId).not.toBe('');

    // As the kill left it: running, in its encode step, no adapter.
    const seen = await openCollection(folder, runtime, { runJobs: false });
    const documentId = seen.job(jobId)?.documentId ?? '';
    expect(seen.job(jobId)).toMatchObject({ state: 'running', step: 'encode' });
    expect(seen.document(documentId)?.hasAdapter).toBe(false);
    await seen.close();

    const collection = await openCollection(folder, runtime);
    await collection.whenIdle();
    expect(collection.job(jobId)).toMatchObject({ state: 'done', step: 'encode' });
    expect(collection.document(documentId)?.hasAdapter).toBe(true);
    expect(collection.documentCount()).toBe(1);
    await collection.close();

    const store = AdapterStore.open(join(folder, 'adapters'), { create: false });
    try {
      const adapters = store.list({ model: runtime.modelName }).filter((e) => 'id' in e.key);
      expect(adapters.map((e) => ('id' in e.key ? e.key.id : ''))).toEqual([documentId]);
      expect(store.verify(adapters[0].key, { modelFingerprint: runtime.fingerprint }).ok).toBe(true);
    } finally {
      store.close();
    }
    expect(readdirSync(join(folder, 'adapters', '.tmp'))).toEqual([]);
  });
});
