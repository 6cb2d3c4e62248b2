import { median } from '@rg/bench-kit';
import { composeCat, type LoraWeights } from '@rg/lora';
import { DecodeBatcher } from '../generate/batcher.js';
import { type GenerateResult, generate } from '../generate/generate.js';
import { argmax } from '../generate/logits-process.js';
import { seededRandom } from '../generate/prng.js';
import { LORA_TARGETS, type LoraTarget } from '../model/config.js';
import { type LoadedModel, loadModel } from '../model/load.js';
import { randomLora } from '../reference/random-lora.js';
import { OrtCausalLM } from '../runtime/causal-lm.js';
import type { WeightFormat } from '../runtime/weights.js';
import { type GenerateWorkload, randomPrompt } from './generate.js';

// The generate benchmark's batch mode: batches of separate requests with their own adapters, and concurrent requests
// through the DecodeBatcher against one after another.

export interface GenerateBatchBenchOptions extends GenerateWorkload {
  /** Batch sizes to time; the largest is also the number of concurrent requests. */
  batch: number[];
}

export interface BatchFigures {
  batch: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  decodeStepMs: number;
}

export interface ServingFigures {
  seconds: number;
  prefillSeconds: number;
  decodeSeconds: number;
  /** All generated tokens over the wall time (prefills included). */
  tokensPerSecond: number;
  /** Tokens after each request's first over the time spent decoding. */
  decodeTokensPerSecond: number;
}

export interface ConcurrentFigures {
  requests: number;
  /** Each request's prompt length. */
  promptTokens: number[];
  sequential: ServingFigures;
  batched: ServingFigures & { decodeSteps: number };
  decodeSpeedup: number;
  totalSpeedup: number;
  /** Every request's greedy tokens from the batch equal its tokens served alone, in every run. */
  outputsIdentical: boolean;
}

export interface GenerateBatchBenchResult {
  model: string;
  weights: WeightFormat;
  promptTokens: number;
  newTokens: number;
  runs: number;
  adaptersPerRequest: { count: number; rank: number; targets: readonly LoraTarget[] };
  batches: BatchFigures[];
  concurrent: ConcurrentFigures;
  peakRssMb: number;
}

/** Each request's own adapters: k rank-r adapters concatenated, seeded per request. */
function requestAdapters(model: LoadedModel, options: GenerateWorkload, request: number): LoraWeights {
  return composeCat(
    Array.from({ length: options.adapters }, (_, i) => ({
      weights: randomLora(model.config, options.rank, LORA_TARGETS, 1000 + 10 * request + i, 0.01),
    })),
  );
}

/**
 * Batch B of separate requests, each row with its own prompt (all `promptTokens` long) and its own adapters, through the
 * per-row graph: one batched prefill, then `newTokens - 1` greedy decode steps. Medians over runs after a warm-up.
 */
async function measureBatch(lm: OrtCausalLM, model: LoadedModel, options: GenerateWorkload, batch: number): Promise<BatchFigures> {
  const random = seededRandom(batch);
  const prompts = Array.from({ length: batch }, () => randomPrompt(random, options.promptTokens, model.config.vocabSize));
  const sets = await Promise.all(prompts.map((_, b) => lm.prepareAdapters(requestAdapters(model, options, b))));
  const adapters = await lm.batchAdapters(sets);
  const vocab = model.config.vocabSize;
  const argmaxRows = (logits: Float32Array) => prompts.map((_, b) => [argmax(logits.subarray(b * vocab, (b + 1) * vocab))]);
  const one = async (newTokens: number) => {
    const start = performance.now();
    let step = await lm.forwardBatch({ ids: prompts, adapters });
    const prefillMs = performance.now() - start;
    for (let i = 1; i < newTokens; i++) {
      const next = await lm.forwardBatch({ ids: argmaxRows(step.logits), cache: step.cache, adapters });
      lm.release(step.cache);
      step = next;
    }
    lm.release(step.cache);
    return { prefillMs, decodeMs: performance.now() - start - prefillMs };
  };
  try {
    await one(4);
    const runs = [];
    for (let i = 0; i < options.runs; i++) runs.push(await one(options.newTokens));
    const prefillMs = median(runs.map((r) => r.prefillMs));
    const decodeMs = median(runs.map((r) => r.decodeMs));
    return {
      batch,
      prefillTokensPerSecond: (batch * options.promptTokens) / (prefillMs / 1000),
      decodeTokensPerSecond: (batch * (options.newTokens - 1)) / (decodeMs / 1000),
      decodeStepMs: decodeMs / (options.newTokens - 1),
    };
  } finally {
    lm.release(adapters);
    for (const set of sets) lm.release(set);
  }
}

/**
 * N requests with different prompts (lengths from promptTokens down to half of it) and different adapters, greedy,
 * `newTokens` each: served one after another with generate(), then all at once through a DecodeBatcher.
 */
async function measureConcurrent(
  lm: OrtCausalLM,
  model: LoadedModel,
  options: GenerateWorkload,
  requests: number,
): Promise<ConcurrentFigures> {
  const random = seededRandom(7);
  const prompts = Array.from({ length: requests }, (_, i) =>
    randomPrompt(random, options.promptTokens - Math.floor((i * options.promptTokens) / (2 * requests)), model.config.vocabSize),
  );
  const sets = await Promise.all(prompts.map((_, i) => lm.prepareAdapters(requestAdapters(model, options, 100 + i))));
  const generateOptions = (i: number) => ({ maxNewTokens: options.newTokens, adapters: sets[i], eosTokenIds: [] as number[] });
  const decodedTokens = requests * (options.newTokens - 1);
  const figures = (seconds: number, prefillSeconds: number, decodeSeconds: number): ServingFigures => ({
    seconds,
    prefillSeconds,
    decodeSeconds,
    tokensPerSecond: (requests * options.newTokens) / seconds,
    decodeTokensPerSecond: decodedTokens / decodeSeconds,
  });
  const sequential = async () => {
    const start = performance.now();
    let prefillMs = 0;
    const results: GenerateResult[] = [];
    for (const [i, prompt] of prompts.entries()) {
      const t0 = performance.now();
      let first = 0;
      // The first token comes right after the prefill.
      const onToken = () => {
        first ||= performance.now();
      };
      results.push(await generate(lm, prompt, { ...generateOptions(i), onToken }));
      prefillMs += first - t0;
    }
    const ms = performance.now() - start;
    return { results, figures: figures(ms / 1000, prefillMs / 1000, (ms - prefillMs) / 1000) };
  };
  const batched = async () => {
    const batcher = new DecodeBatcher(lm, { maxBatch: requests });
    const start = performance.now();
    const results = await Promise.all(prompts.map((p, i) => batcher.generate(p, generateOptions(i))));
    const ms = performance.now() - start;
    const { prefillMs, decodeMs, steps } = batcher.stats;
    return { results, steps, figures: figures(ms / 1000, prefillMs / 1000, decodeMs / 1000) };
  };
  try {
    const runs: Array<{ sequential: Awaited<ReturnType<typeof sequential>>; batched: Awaited<ReturnType<typeof batched>> }> = [];
    for (let i = 0; i < options.runs; i++) runs.push({ sequential: await sequential(), batched: await batched() });
    const pick = (k: 'sequential' | 'batched', f: keyof ServingFigures) => median(runs.map((r) => r[k].figures[f]));
    const summary = (k: 'sequential' | 'batched'): ServingFigures => ({
      seconds: pick(k, 'seconds'),
      prefillSeconds: pick(k, 'prefillSeconds'),
      decodeSeconds: pick(k, 'decodeSeconds'),
      tokensPerSecond: pick(k, 'tokensPerSecond'),
      decodeTokensPerSecond: pick(k, 'decodeTokensPerSecond'),
    });
    const seq = summary('sequential');
    const bat = summary('batched');
    return {
      requests,
      promptTokens: prompts.map((p) => p.length),
      sequential: seq,
      batched: { ...bat, decodeSteps: runs[0].batched.steps },
      decodeSpeedup: bat.decodeTokensPerSecond / seq.decodeTokensPerSecond,
      totalSpeedup: bat.tokensPerSecond / seq.tokensPerSecond,
      outputsIdentical: runs.every((r) => r.batched.results.every((b, i) => b.tokens.join() === r.sequential.results[i].tokens.join())),
    };
  } finally {
    for (const set of sets) lm.release(set);
  }
}

/**
 * Batches of separate requests, each with its own adapters: prefill and decode tokens/s per batch size; then the
 * largest size of concurrent requests through the DecodeBatcher against the same requests served one after another.
 * No peer: neither peer batches requests with different adapters.
 */
export async function generateBatchBench(
  options: GenerateBatchBenchOptions,
  say: (line: string) => void = () => {},
): Promise<GenerateBatchBenchResult> {
  if (options.batch.length === 0 || options.batch.some((b) => !Number.isInteger(b) || b < 1))
    throw new RangeError(`batch sizes must be positive integers, got [${options.batch.join(', ')}]`);
  const model = await loadModel(options.model, { home: options.home, pull: true });
  const lm = await OrtCausalLM.load(model.config, model.weights, { threads: options.threads, weightFormat: options.weights });
  try {
    const batches = [];
    for (const b of options.batch) {
      say(`rg: batch ${b}: ${options.runs} runs of ${options.promptTokens} prompt + ${options.newTokens} tokens per row ...`);
      batches.push(await measureBatch(lm, model, options, b));
    }
    const requests = Math.max(...options.batch);
    say(`rg: ${requests} concurrent requests, one after another and through the batcher, ${options.runs} runs ...`);
    const concurrent = await measureConcurrent(lm, model, options, requests);
    return {
      model: options.model,
      weights: options.weights,
      promptTokens: options.promptTokens,
      newTokens: options.newTokens,
      runs: options.runs,
      adaptersPerRequest: { count: options.adapters, rank: options.rank, targets: LORA_TARGETS },
      batches,
      concurrent,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    await lm.dispose();
  }
}
