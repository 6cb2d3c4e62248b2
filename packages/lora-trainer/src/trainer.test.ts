import { type LoraParams, type LoraTarget, randomLlamaWeights, TrainingSession, targetShape, tinyLlamaConfig } from '@rg/engine';
import { describe, expect, it } from 'vitest';
import { scoredTokens, type TrainingExample } from './batching.js';
import { type ChatEncoder, chatExample } from './recipe.js';
import { type TrainCheckpoint, trainAdapter } from './trainer.js';

const config = tinyLlamaConfig();
const weights = randomLlamaWeights(config, 3);
const targets: LoraTarget[] = ['gate_proj', 'up_proj', 'down_proj'];

function initAdapter(seed: number): Map<string, LoraParams> {
  const m = new Map<string, LoraParams>();
  let s = seed;
  for (let l = 0; l < config.numLayers; l++) {
    for (const t of targets) {
      const { inFeatures, outFeatures } = targetShape(config, t);
      const a = Float32Array.from({ length: 2 * inFeatures }, () => Math.sin(s++) * 0.3);
      m.set(`${l}.${t}`, { a, b: new Float32Array(outFeatures * 2) });
    }
  }
  return m;
}

// Same number of scored tokens in each, so the mean of the two batch means is the two-row batch mean.
const examples: TrainingExample[] = [
  { inputIds: [1, 4, 8, 15, 16, 23], labels: [-100, -100, 8, 15, 16, 23] },
  { inputIds: [1, 5, 9, 11, 2], labels: [-100, 5, 9, 11, 2] },
];

describe('trainAdapter', () => {
  it('lora mode drives the loss down on a tiny model', async () => {
    const session = await TrainingSession.create(config, weights, { targets });
    const r = await trainAdapter(session, initAdapter(1), examples, { mode: 'lora', scale: 16, lr: 1e-2, epochs: 15, batchSize: 2 });
    expect(r.optimizerSteps).toBe(15);
    expect(r.losses[r.losses.length - 1]).toBeLessThan(r.losses[0] * 0.5);
    expect(r.tokens).toBe(15 * 2 * 6);
    await session.release();
  });

  it('awaits beforeBatch before every micro-batch: no step runs until it resolves', async () => {
    const session = await TrainingSession.create(config, weights, { targets });
    const events: string[] = [];
    let open: () => void = () => {};
    const run = trainAdapter(session, initAdapter(4), examples, {
      mode: 'lora',
      scale: 16,
      lr: 1e-2,
      epochs: 2,
      batchSize: 1,
      beforeBatch: () => {
        events.push('before');
        // The first micro-batch waits for the test to let it go; the others go on at once.
        if (events.length === 1) return new Promise<void>((r) => (open = r));
      },
      onBatch: () => events.push('batch'),
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual(['before']);
    open();
    const r = await run;
    expect(r.losses).toHaveLength(4);
    expect(events).toEqual(['before', 'batch', 'before', 'batch', 'before', 'batch', 'before', 'batch']);
    await session.release();
  });

  it('a run resumed from a checkpoint ends exactly where the uninterrupted run does', async () => {
    const session = await TrainingSession.create(config, weights, { targets });
    const three = [...examples, { inputIds: [1, 6, 7, 3], labels: [-100, -100, 7, 3] }];
    const opts = { mode: 'lora' as const, scale: 16, lr: 1e-2, epochs: 3, batchSize: 1, gradAccumulation: 2, seed: 4 };
    const checkpoints: TrainCheckpoint[] = [];
    const whole = await trainAdapter(session, initAdapter(5), three, { ...opts, onCheckpoint: (c) => checkpoints.push(c) });
    // Per epoch: a step after two micro-batches and one after the last; the checkpoints say where to go on.
    expect(checkpoints.map((c) => [c.epoch, c.batch])).toEqual([
      [0, 2],
      [1, 0],
      [1, 2],
      [2, 0],
      [2, 2],
      [3, 0],
    ]);
    const resumed = await trainAdapter(session, initAdapter(9), three, { ...opts, resume: checkpoints[2] });
    expect(resumed.losses).toEqual(whole.losses);
    expect(resumed.tokens).toBe(whole.tokens);
    expect(resumed.optimizerSteps).toBe(whole.optimizerSteps);
    for (const [key, p] of whole.tensors) {
      expect(resumed.tensors.get(key)?.a).toEqual(p.a);
      expect(resumed.tensors.get(key)?.b).toEqual(p.b);
    }
    await session.release();
  });

  it('gradient accumulation over two micro-batches equals one batch of two', async () => {
    const session = await TrainingSession.create(config, weights, { targets });
    const opts = { mode: 'lora' as const, scale: 16, lr: 1e-2, epochs: 1, seed: 5 };
    const joint = await trainAdapter(session, initAdapter(2), examples, { ...opts, batchSize: 2 });
    const accum = await trainAdapter(session, initAdapter(2), examples, { ...opts, batchSize: 1, gradAccumulation: 2 });
    expect(joint.optimizerSteps).toBe(1);
    expect(accum.optimizerSteps).toBe(1);
    for (const [key, p] of joint.tensors) {
      const q = accum.tensors.get(key) as LoraParams;
      for (let i = 0; i < p.b.length; i++) expect(q.b[i]).toBeCloseTo(p.b[i], 6);
      for (let i = 0; i < p.a.length; i++) expect(q.a[i]).toBeCloseTo(p.a[i], 6);
    }
    await session.release();
  });

  it('gradient mode returns the raw gradient at the init, no optimizer step', async () => {
    const session = await TrainingSession.create(config, weights, { targets });
    const init = initAdapter(3);
    const r = await trainAdapter(session, init, examples, { mode: 'gradient', scale: 16, lr: 1, epochs: 9, batchSize: 2 });
    expect(r.optimizerSteps).toBe(0);
    expect(r.losses).toHaveLength(1);
    const direct = await session.step(
      {
        batch: 2,
        seq: 6,
        inputIds: [1, 4, 8, 15, 16, 23, 1, 5, 9, 11, 2, 0],
        attentionMask: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0],
        labels: [-100, -100, 8, 15, 16, 23, -100, 5, 9, 11, 2, -100],
      },
      init,
      16,
    );
    let norm = 0;
    for (const [key, g] of direct.grads) {
      const got = r.tensors.get(key) as LoraParams;
      for (let i = 0; i < g.b.length; i++) {
        expect(got.b[i]).toBeCloseTo(g.b[i], 6);
        norm += g.b[i] ** 2;
      }
      // B is zero at the init, so dL/dA = scale·(dy·B)ᵀ·x vanishes.
      expect(Math.max(...got.a.map(Math.abs))).toBe(0);
    }
    expect(norm).toBeGreaterThan(0);
    await session.release();
  });
});

describe('loss on every token (rg encode --loss all)', () => {
  // A chat template over the tiny vocabulary: role markers 1 and 2, characters onto 3..31.
  const chat: ChatEncoder = {
    encodeChat(messages, options = {}) {
      const ids = messages.flatMap((m) => [m.role === 'user' ? 1 : 2, ...[...m.content].map((c) => 3 + (c.charCodeAt(0) % 29))]);
      return options.addGenerationPrompt ? [...ids, 2] : ids;
    },
  };

  it('is the token-weighted mean of the answer-only and prompt-only losses, and so is its gradient', async () => {
    const session = await TrainingSession.create(config, weights, { targets });
    // B away from zero, so that dL/dA is not trivially zero either.
    const init = new Map([...initAdapter(6)].map(([k, p]) => [k, { a: p.a, b: p.b.map((_, i) => Math.cos(i) * 0.05) }]));
    const answer = chatExample(chat, 'Who met Bo?', 'Ada did', 'x', 'answer');
    const all = chatExample(chat, 'Who met Bo?', 'Ada did', 'x', 'all');
    const prompt = { inputIds: answer.inputIds, labels: answer.inputIds.map((id, i) => (answer.labels[i] === -100 ? id : -100)) };
    const opts = { mode: 'gradient' as const, scale: 16, lr: 1, epochs: 1, batchSize: 1 };
    const ga = await trainAdapter(session, init, [answer], opts);
    const gp = await trainAdapter(session, init, [prompt], opts);
    const gall = await trainAdapter(session, init, [all], opts);
    const [na, np, nall] = [answer, prompt, all].map(scoredTokens);
    // Every position but the first predicts a token: more than the answer turn covers.
    expect(nall).toBe(all.inputIds.length - 1);
    expect(na + np).toBe(nall);
    expect(na).toBeLessThan(nall / 2);
    expect(gall.losses[0]).toBeCloseTo((ga.losses[0] * na + gp.losses[0] * np) / nall, 5);
    let differs = 0;
    for (const [key, g] of gall.tensors) {
      for (const f of ['a', 'b'] as const) {
        const a = ga.tensors.get(key)![f];
        const p = gp.tensors.get(key)![f];
        for (let i = 0; i < g[f].length; i++) {
          const want = (a[i] * na + p[i] * np) / nall;
          expect(Math.abs(g[f][i] - want)).toBeLessThan(1e-5 + 1e-4 * Math.abs(want));
          differs = Math.max(differs, Math.abs(g[f][i] - a[i]));
        }
      }
    }
    // The prompt tokens move the adapter too: the all-token gradient is not the answer-only one.
    expect(differs).toBeGreaterThan(1e-3);
    await session.release();
  });
});
