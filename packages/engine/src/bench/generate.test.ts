import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LORA_TARGETS } from '../model/config.js';
import { writeTinyModel } from '../testing.js';
import { type GenerateWorkload, generateBench } from './generate.js';
import { generateBatchBench } from './generate-batch.js';
import { PeerSetupError } from './peer.js';

const root = mkdtempSync(join(tmpdir(), 'rg-bench-generate-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const model = writeTinyModel(join(root, 'tiny-llama'));
const workload: GenerateWorkload = {
  model,
  home: root,
  threads: 1,
  promptTokens: 8,
  newTokens: 3,
  runs: 1,
  adapters: 2,
  rank: 1,
  weights: 'f32',
};
const positiveFinite = (x: number) => expect(Number.isFinite(x) && x > 0, String(x)).toBe(true);

describe('generateBench on the tiny model, no peer', () => {
  it('times the three configurations at the requested sizes; every figure against a peer is null', async () => {
    const said: string[] = [];
    const r = await generateBench({ ...workload, peer: null, llamaCpp: null }, (line) => said.push(line));
    expect(Object.keys(r)).toEqual([
      'model',
      'weights',
      'promptTokens',
      'newTokens',
      'runs',
      'rg',
      'peer',
      'logitsVsF32',
      'ratios',
      'greedyTokensMatchingPeer',
      'llamaCpp',
      'ratiosVsLlamaCpp',
      'greedyTokensMatchingLlamaCpp',
    ]);
    expect(r).toMatchObject({ model, weights: 'f32', promptTokens: 8, newTokens: 3, runs: 1 });
    expect(r.rg.adapters).toMatchObject({ count: 2, rank: 1, targets: LORA_TARGETS });
    for (const t of [r.rg.noLoraGraph, r.rg.loraGraphRank0, r.rg.adapters]) {
      // The generated ids and prompt logits are for comparing with the peers, never printed.
      expect(Object.keys(t)).not.toContain('generatedIds');
      expect(Object.keys(t)).not.toContain('promptLogits');
      for (const x of [t.prefillTokensPerSecond, t.decodeTokensPerSecond, t.requestSeconds, t.sessionCreateMs]) positiveFinite(x);
    }
    expect(Number.isFinite(r.rg.adapterLatencyCost) && Number.isFinite(r.rg.adapterLatencyCostVsNoLoraGraph)).toBe(true);
    positiveFinite(r.rg.peakRssMb);
    for (const k of [
      'peer',
      'logitsVsF32',
      'ratios',
      'greedyTokensMatchingPeer',
      'llamaCpp',
      'ratiosVsLlamaCpp',
      'greedyTokensMatchingLlamaCpp',
    ] as const)
      expect(r[k], k).toBeNull();
    expect(said).toEqual([
      'rg: 1 requests on a graph without LoRA inputs ...',
      `rg: 1 requests each with rank 0 and 2 rank-1 adapters on ${LORA_TARGETS.length} modules ...`,
    ]);
  });
});

describe('generateBench peers: what is missing fails before any timing', () => {
  const missingModel = join(root, 'no-such-model');

  it('llama.cpp not installed: says how to install it', async () => {
    const script = join(root, 'tools/bench/generate_llamacpp.mjs');
    const run = generateBench({ ...workload, model: missingModel, peer: null, llamaCpp: { script } });
    await expect(run).rejects.toThrow(PeerSetupError);
    await expect(run).rejects.toThrow(
      `--llamacpp: ${join(root, 'tools/bench/llamacpp/node_modules/node-llama-cpp')} not found: from the repository root, npm i --prefix tools/bench/llamacpp --ignore-scripts`,
    );
  });

  it('no Python, or no peer script: names it and --no-peer', async () => {
    const python = join(root, 'venv/bin/python');
    const noPython = generateBench({ ...workload, model: missingModel, peer: { python, script: join(root, 'peer.py') }, llamaCpp: null });
    await expect(noPython).rejects.toThrow(`--python ${python}: not found`);
    const noScript = generateBench({
      ...workload,
      model: missingModel,
      peer: { python: process.execPath, script: join(root, 'peer.py') },
      llamaCpp: null,
    });
    await expect(noScript).rejects.toThrow(`${join(root, 'peer.py')}: not found (run from the repository root, or pass --no-peer)`);
  });

  it('a model the peers cannot load (a Hugging Face folder: they read GGUF)', async () => {
    mkdirSync(join(root, 'tools'), { recursive: true });
    const script = join(root, 'tools/peer.py');
    writeFileSync(script, '');
    const run = generateBench({ ...workload, peer: { python: process.execPath, script }, llamaCpp: null });
    await expect(run).rejects.toThrow('the peers load GGUF files only: use a .gguf model or --no-peer');
  });
});

describe('generateBatchBench on the tiny model', () => {
  it('times each requested batch size, then as many concurrent requests as the largest, with identical greedy outputs', async () => {
    const r = await generateBatchBench({ ...workload, batch: [1, 2] });
    expect(r).toMatchObject({ model, promptTokens: 8, newTokens: 3, runs: 1, adaptersPerRequest: { count: 2, rank: 1 } });
    expect(r.batches.map((b) => b.batch)).toEqual([1, 2]);
    for (const b of r.batches) for (const x of [b.prefillTokensPerSecond, b.decodeTokensPerSecond, b.decodeStepMs]) positiveFinite(x);
    // Prompt lengths run from promptTokens down towards half of it.
    expect(r.concurrent).toMatchObject({ requests: 2, promptTokens: [8, 6], outputsIdentical: true });
    for (const x of [r.concurrent.sequential.seconds, r.concurrent.batched.seconds, r.concurrent.decodeSpeedup]) positiveFinite(x);
    positiveFinite(r.peakRssMb);
  });

  it('refuses a batch size below 1 before loading anything', async () => {
    await expect(generateBatchBench({ ...workload, model: join(root, 'no-such-model'), batch: [2, 0] })).rejects.toThrow(RangeError);
  });
});
