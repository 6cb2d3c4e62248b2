import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCollection } from './collection.js';
import { RequestGate } from './request-gate.js';
import { DOCUMENTS, FAST, tinyRuntime, until } from './test-helpers/fixtures.js';

const settled = async (p: Promise<void>) => {
  let done = false;
  void p.then(() => {
    done = true;
  });
  await new Promise((r) => setTimeout(r, 20));
  return done;
};

describe('RequestGate', () => {
  it('lets training go at once when no request is in flight, and waits for the last one to end', async () => {
    const gate = new RequestGate(60_000);
    expect(await settled(gate.idle())).toBe(true);
    const first = gate.enter();
    const second = gate.enter();
    const waiting = gate.idle();
    expect(await settled(waiting)).toBe(false);
    first();
    first(); // a second call changes nothing
    expect(gate.active).toBe(1);
    expect(await settled(waiting)).toBe(false);
    second();
    expect(gate.active).toBe(0);
    expect(await settled(waiting)).toBe(true);
  });

  it('waits at most maxPauseMs, and not at all with 0 or an aborted signal', async () => {
    const gate = new RequestGate(50);
    gate.enter();
    const t0 = performance.now();
    await gate.idle();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    expect(await settled(new RequestGate(0).idle())).toBe(true);
    const stop = new AbortController();
    const long = new RequestGate(60_000);
    long.enter();
    const waiting = long.idle(stop.signal);
    expect(await settled(waiting)).toBe(false);
    stop.abort();
    expect(await settled(waiting)).toBe(true);
  });

  it("holds a collection's training between micro-batches while an answer is in flight, then lets it finish", async () => {
    const { dir, runtime, cleanup } = await tinyRuntime('gate', { trainingMaxPauseMs: 60_000 });
    const collection = await openCollection(join(dir, 'gated'), runtime, { create: FAST });
    try {
      const leave = runtime.requests?.enter() as () => void;
      const { jobId } = collection.addDocument(DOCUMENTS[0]);
      await until(() => collection.job(jobId)?.step === 'encode', 'the job to reach its encode step');
      await new Promise((r) => setTimeout(r, 500));
      // An answer is in flight: the training waits before its first micro-batch, so no adapter can be stored.
      expect(collection.job(jobId)).toMatchObject({ state: 'running', step: 'encode' });
      expect(collection.document(DOCUMENTS[0].id)).toMatchObject({ hasAdapter: false });
      leave();
      await collection.whenIdle();
      expect(collection.job(jobId)).toMatchObject({ state: 'done', step: 'encode' });
      expect(collection.document(DOCUMENTS[0].id)).toMatchObject({ hasAdapter: true });
    } finally {
      await collection.close();
      await cleanup();
    }
  });
});
