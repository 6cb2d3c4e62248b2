import { median } from '@rg/bench-kit';
import {
  DecodeBatcher,
  type GenerateResult,
  generate,
  LORA_TARGETS,
  type LoadedModel,
  type OrtCausalLM,
  randomLora,
  seededRandom,
  type WeightFormat,
} from '@rg/engine';
import { composeCat, type LoraWeights } from '@rg/lora';

// rg bench generate --batch: batches of separate requests with their own adapters, and concurrent requests through the
// DecodeBatcher against one after another. Also the prompts and adapters every part of the benchmark uses.

/** rg bench generate's flags. */
export interface Flags {
  promptTokens: number;
  newTokens: number;
  runs: number;
  adapters: number;
  rank: number;
  weights: WeightFormat;
  peer: boolean;
  python: string;
  llamacpp?: boolean;
  batch?: number[];
  allowBusy?: boolean;
  json?: boolean;
}

/** Random ordinary (non-special) token ids: a plausible text for every implementation. */
export function randomPrompt(random: () => number, length: number, vocabSize: number): number[] {
  return Array.from({ length }, () => 100 + Math.floor(random() * (vocabSize - 100)));
}

/** Each request's own adapters: k rank-r adapters concatenated, seeded per request. */
export function requestAdapters(model: LoadedModel, flags: Flags, request: number): LoraWeights {
  return composeCat(
    Array.from({ length: flags.adapters }, (_, i) => ({
      weights: randomLora(model.config, flags.rank, LORA_TARGETS, 1000 + 10 * request + i, 0.01),
    })),
  );
}

export interface BatchFigures {
  batch: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  decodeStepMs: number;
}

/**
 * Batch B of separate requests, each row with its own prompt (all `promptTokens` long) and its own adapters, through the
 * per-row graph: one batched prefill, then `newTokens - 1` greedy decode steps. Medians over runs after a warm-up.
 */
export async function measureBatch(lm: OrtCausalLM, model: LoadedModel, flags: Flags, batch: number): Promise<BatchFigures> {
  const random = seededRandom(batch);
  const prompts = Array.from({ length: batch }, () => randomPrompt(random, flags.promptTokens, model.config.vocabSize));
  const sets = await Promise.all(prompts.map((_, b) => lm.prepareAdapters(requestAdapters(model, flags, b))));
  const adapters = await lm.batchAdapters(sets);
  const vocab = model.config.vocabSize;
  const argmaxRows = (logits: Float32Array) =>
    prompts.map((_, b) => {
      const row = logits.subarray(b * vocab, (b + 1) * vocab);
      return [row.reduce((best, v, i) => (v > row[best] ? i : best), 0)];
    });
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
    for (let i = 0; i < flags.runs; i++) runs.push(await one(flags.newTokens));
    const prefillMs = median(runs.map((r) => r.prefillMs));
    const decodeMs = median(runs.map((r) => r.decodeMs));
    return {
      batch,
      prefillTokensPerSecond: (batch * flags.promptTokens) / (prefillMs / 1000),
      decodeTokensPerSecond: (batch * (flags.newTokens - 1)) / (decodeMs / 1000),
      decodeStepMs: decodeMs / (flags.newTokens - 1),
    };
  } finally {
    lm.release(adapters);
    for (const set of sets) lm.release(set);
  }
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

/**
 * N requests with different prompts (lengths from promptTokens down to half of it) and different adapters, greedy,
 * `newTokens` each: served one after another with generate(), then all at once through a DecodeBatcher.
 */
export async function measureConcurrent(lm: OrtCausalLM, model: LoadedModel, flags: Flags, requests: number) {
  const random = seededRandom(7);
  const prompts = Array.from({ length: requests }, (_, i) =>
    randomPrompt(random, flags.promptTokens - Math.floor((i * flags.promptTokens) / (2 * requests)), model.config.vocabSize),
  );
  const sets = await Promise.all(prompts.map((_, i) => lm.prepareAdapters(requestAdapters(model, flags, 100 + i))));
  const options = (i: number) => ({ maxNewTokens: flags.newTokens, adapters: sets[i], eosTokenIds: [] as number[] });
  const decodedTokens = requests * (flags.newTokens - 1);
  const figures = (seconds: number, prefillSeconds: number, decodeSeconds: number): ServingFigures => ({
    seconds,
    prefillSeconds,
    decodeSeconds,
    tokensPerSecond: (requests * flags.newTokens) / seconds,
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
      results.push(await generate(lm, prompt, { ...options(i), onToken }));
      prefillMs += first - t0;
    }
    const ms = performance.now() - start;
    return { results, figures: figures(ms / 1000, prefillMs / 1000, (ms - prefillMs) / 1000) };
  };
  const batched = async () => {
    const batcher = new DecodeBatcher(lm, { maxBatch: requests });
    const start = performance.now();
    const results = await Promise.all(prompts.map((p, i) => batcher.generate(p, options(i))));
    const ms = performance.now() - start;
    const { prefillMs, decodeMs, steps } = batcher.stats;
    return { results, steps, figures: figures(ms / 1000, prefillMs / 1000, decodeMs / 1000) };
  };
  try {
    const runs: Array<{ sequential: Awaited<ReturnType<typeof sequential>>; batched: Awaited<ReturnType<typeof batched>> }> = [];
    for (let i = 0; i < flags.runs; i++) runs.push({ sequential: await sequential(), batched: await batched() });
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
      // Greedy: every request's tokens from the batch equal its tokens served alone, in every run.
      outputsIdentical: runs.every((r) => r.batched.results.every((b, i) => b.tokens.join() === r.sequential.results[i].tokens.join())),
    };
  } finally {
    for (const set of sets) lm.release(set);
  }
}
