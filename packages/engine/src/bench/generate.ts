import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { median } from '@rg/bench-kit';
import { composeCat, type LoraWeights } from '@rg/lora';
import { argmax } from '../generate/logits-process.js';
import { seededRandom } from '../generate/prng.js';
import { LORA_TARGETS, type LoraTarget } from '../model/config.js';
import { type LoadedModel, loadModel } from '../model/load.js';
import { randomLora } from '../reference/random-lora.js';
import { type AdapterSet, OrtCausalLM } from '../runtime/causal-lm.js';
import type { WeightFormat } from '../runtime/weights.js';
import { checkGgufForPeer, checkPeerScript, checkPythonPeer, PeerSetupError, type PythonPeer, runPeer } from './peer.js';

/** What every part of the generate benchmark is sized by (also its batch mode). */
export interface GenerateWorkload {
  /** A known model name, a .gguf file or a Hugging Face folder (loadModel's spec); pulled when known and missing. */
  model: string;
  /** Where known models live (RG_HOME). */
  home: string;
  /** onnxruntime intra-op threads (also the peers'). */
  threads: number;
  /** Prompt length (seeded random ids). */
  promptTokens: number;
  /** Greedy tokens generated per request. */
  newTokens: number;
  /** Timed requests per configuration (median reported), after one warm-up. */
  runs: number;
  /** Adapters concatenated in the adapter configuration (per request in batch mode). */
  adapters: number;
  /** Rank of each adapter. */
  rank: number;
  /** Projection weights. */
  weights: WeightFormat;
}

export interface GenerateBenchOptions extends GenerateWorkload {
  /** PyTorch + transformers generate (tools/bench/generate_peer.py); null: none. */
  peer: PythonPeer | null;
  /** llama.cpp through node-llama-cpp (tools/bench/generate_llamacpp.mjs, run by this node); null: none. */
  llamaCpp: { script: string } | null;
}

export const GENERATE_BENCH_DEFAULTS = {
  promptTokens: 512,
  newTokens: 128,
  runs: 3,
  adapters: 3,
  rank: 2,
  // rg generate's default: the fast path, its logits against f32 in the figures (logitsVsF32).
  weights: 'q8',
} as const satisfies Partial<GenerateWorkload>;

/** Medians over the runs of one configuration. */
export interface GenerateTiming {
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  requestSeconds: number;
}

/** What a peer script prints, less the generated ids. */
export interface PeerGenerateTiming extends GenerateTiming {
  peer: string;
  peakRssMb: number;
  threads: number;
}

type SessionTiming = GenerateTiming & { sessionCreateMs: number };

export interface GenerateBenchResult {
  model: string;
  weights: WeightFormat;
  promptTokens: number;
  newTokens: number;
  runs: number;
  rg: {
    noLoraGraph: SessionTiming;
    loraGraphRank0: SessionTiming;
    adapters: { count: number; rank: number; targets: readonly LoraTarget[] } & SessionTiming;
    adapterLatencyCost: number;
    adapterLatencyCostVsNoLoraGraph: number;
    peakRssMb: number;
  };
  peer: PeerGenerateTiming | null;
  logitsVsF32: { maxAbsDiff: number; maxAbsDiffOverRange: number; top1Equal: boolean } | null;
  ratios: { prefill: number; decode: number; request: number } | null;
  greedyTokensMatchingPeer: number | null;
  llamaCpp: PeerGenerateTiming | null;
  ratiosVsLlamaCpp: { prefill: number; decode: number; request: number; peakRss: number } | null;
  greedyTokensMatchingLlamaCpp: number | null;
}

interface Timing extends GenerateTiming {
  /** Next-token logits after the prompt (to compare weight formats). */
  promptLogits?: Float32Array;
  generatedIds: number[];
}

/** Random ordinary (non-special) token ids: a plausible text for every implementation. */
export function randomPrompt(random: () => number, length: number, vocabSize: number): number[] {
  return Array.from({ length }, () => 100 + Math.floor(random() * (vocabSize - 100)));
}

/**
 * One session; for each adapter set (null = none) requests of a prefill then greedy one-token decode
 * steps. Requests of the sets are interleaved (a warm-up each first), so load drifting on a shared
 * machine hits them alike; medians over runs.
 */
async function measure(
  model: LoadedModel,
  prompt: number[],
  options: GenerateWorkload,
  loraTargets: LoraTarget[],
  sets: Array<LoraWeights | null>,
): Promise<Array<Timing & { promptLogits: Float32Array; sessionCreateMs: number }>> {
  const t0 = performance.now();
  const lm = await OrtCausalLM.load(model.config, model.weights, { threads: options.threads, weightFormat: options.weights, loraTargets });
  const sessionCreateMs = performance.now() - t0;
  const one = async (adapters: AdapterSet | null, newTokens: number) => {
    const start = performance.now();
    let step = await lm.forward({ ids: prompt, adapters });
    const prefillMs = performance.now() - start;
    const promptLogits = step.logits;
    const ids = [argmax(step.logits)];
    while (ids.length < newTokens) {
      const next = await lm.forward({ ids: [ids[ids.length - 1]], cache: step.cache, adapters });
      lm.release(step.cache);
      step = next;
      ids.push(argmax(step.logits));
    }
    lm.release(step.cache);
    return { prefillMs, totalMs: performance.now() - start, ids, promptLogits };
  };
  try {
    const prepared = await Promise.all(sets.map((set) => (set ? lm.prepareAdapters(set) : null)));
    for (const adapters of prepared) await one(adapters, 4);
    const runs = prepared.map(() => [] as Array<Awaited<ReturnType<typeof one>>>);
    for (let i = 0; i < options.runs; i++)
      for (const [k, adapters] of prepared.entries()) runs[k].push(await one(adapters, options.newTokens));
    return runs.map((rs) => {
      const prefillMs = median(rs.map((r) => r.prefillMs));
      const decodeMs = median(rs.map((r) => r.totalMs - r.prefillMs));
      return {
        prefillTokensPerSecond: prompt.length / (prefillMs / 1000),
        decodeTokensPerSecond: (options.newTokens - 1) / (decodeMs / 1000),
        requestSeconds: median(rs.map((r) => r.totalMs)) / 1000,
        generatedIds: rs[0].ids,
        promptLogits: rs[0].promptLogits,
        sessionCreateMs,
      };
    });
  } finally {
    await lm.dispose();
  }
}

/** The effect of compact weights on the numbers: next-token logits after the prompt vs exact fp32. */
async function logitsVsF32(model: LoadedModel, prompt: number[], threads: number, got: Float32Array) {
  const exact = await OrtCausalLM.load(model.config, model.weights, { threads, loraTargets: [] });
  const ref = (await exact.forward({ ids: prompt })).logits;
  await exact.dispose();
  let maxAbs = 0;
  for (let i = 0; i < ref.length; i++) maxAbs = Math.max(maxAbs, Math.abs(ref[i] - got[i]));
  const range = Math.max(...ref) - Math.min(...ref);
  return { maxAbsDiff: maxAbs, maxAbsDiffOverRange: maxAbs / range, top1Equal: argmax(ref) === argmax(got) };
}

function sameLeading(a: number[], b: number[]): number {
  let n = 0;
  while (n < Math.min(a.length, b.length) && a[n] === b[n]) n++;
  return n;
}

const strip = <T extends Timing>({ generatedIds: _ids, promptLogits: _logits, ...t }: T) => t;

/**
 * Prefill and decode tokens/s of greedy requests with 0 and with k concatenated LoRA adapters, on a graph without LoRA
 * inputs and on one with them, and peak RSS; the peers (transformers generate, llama.cpp) on the same GGUF and prompt
 * ids in the same run. `say` hears what is being timed.
 */
export async function generateBench(options: GenerateBenchOptions, say: (line: string) => void = () => {}): Promise<GenerateBenchResult> {
  // Before any timing: a peer that is not installed fails the run at once, not after rg's minutes.
  if (options.llamaCpp) {
    const installed = join(dirname(options.llamaCpp.script), 'llamacpp/node_modules/node-llama-cpp');
    if (!existsSync(installed))
      throw new PeerSetupError(
        `--llamacpp: ${installed} not found: from the repository root, npm i --prefix tools/bench/llamacpp --ignore-scripts (about 700 MB)`,
      );
    checkPeerScript(options.llamaCpp.script, 'no --llamacpp');
  }
  if (options.peer) checkPythonPeer(options.peer);
  const model = await loadModel(options.model, { home: options.home, pull: true });
  if (options.peer) checkGgufForPeer(model.source, '--no-peer');
  if (options.llamaCpp) checkGgufForPeer(model.source, 'no --llamacpp');

  const prompt = randomPrompt(seededRandom(1), options.promptTokens, model.config.vocabSize);
  const adapterSet = composeCat(
    Array.from({ length: options.adapters }, (_, i) => ({ weights: randomLora(model.config, options.rank, LORA_TARGETS, 100 + i, 0.01) })),
  );
  say(`rg: ${options.runs} requests on a graph without LoRA inputs ...`);
  const [base] = await measure(model, prompt, options, [], [null]);
  say(
    `rg: ${options.runs} requests each with rank 0 and ${options.adapters} rank-${options.rank} adapters on ${LORA_TARGETS.length} modules ...`,
  );
  const [rank0, adapted] = await measure(model, prompt, options, [...LORA_TARGETS], [null, adapterSet]);
  const rgPeakRssMb = process.resourceUsage().maxRSS / 1024;

  let vsF32: GenerateBenchResult['logitsVsF32'] = null;
  if (options.weights !== 'f32') {
    say('rg: f32 reference logits for the prompt ...');
    vsF32 = await logitsVsF32(model, prompt, options.threads, base.promptLogits);
  }

  type PeerRun = PeerGenerateTiming & { generatedIds: number[] };
  /** A peer script on the same GGUF and prompt ids. */
  const peerRun = (what: string, command: string, script: string): PeerRun => {
    const dir = mkdtempSync(join(tmpdir(), 'rg-bench-'));
    try {
      const idsFile = join(dir, 'ids.json');
      writeFileSync(idsFile, JSON.stringify(prompt));
      say(`peer: ${what} ...`);
      const args = [script, '--gguf', model.source.path, '--ids-file', idsFile, '--new', String(options.newTokens)];
      return runPeer<PeerRun>(what, command, [...args, '--runs', String(options.runs), '--threads', String(options.threads)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const peer = options.peer ? peerRun('transformers generate', options.peer.python, options.peer.script) : null;
  const llamaCpp = options.llamaCpp ? peerRun('llama.cpp', process.execPath, options.llamaCpp.script) : null;
  return {
    model: options.model,
    weights: options.weights,
    promptTokens: options.promptTokens,
    newTokens: options.newTokens,
    runs: options.runs,
    rg: {
      noLoraGraph: strip(base),
      loraGraphRank0: strip(rank0),
      adapters: { count: options.adapters, rank: options.rank, targets: LORA_TARGETS, ...strip(adapted) },
      // The cost of applying the adapters in a session that serves requests with and without them.
      adapterLatencyCost: adapted.requestSeconds / rank0.requestSeconds - 1,
      // The same against a graph built with no LoRA inputs at all.
      adapterLatencyCostVsNoLoraGraph: adapted.requestSeconds / base.requestSeconds - 1,
      peakRssMb: rgPeakRssMb,
    },
    peer: peer ? strip(peer) : null,
    logitsVsF32: vsF32,
    ratios: peer
      ? {
          prefill: base.prefillTokensPerSecond / peer.prefillTokensPerSecond,
          decode: base.decodeTokensPerSecond / peer.decodeTokensPerSecond,
          request: peer.requestSeconds / base.requestSeconds,
        }
      : null,
    greedyTokensMatchingPeer: peer ? sameLeading(base.generatedIds, peer.generatedIds) : null,
    // llama.cpp runs the GGUF's own quantized weights: rg with weights q4 is the like-for-like comparison.
    llamaCpp: llamaCpp ? strip(llamaCpp) : null,
    ratiosVsLlamaCpp: llamaCpp
      ? {
          prefill: base.prefillTokensPerSecond / llamaCpp.prefillTokensPerSecond,
          decode: base.decodeTokensPerSecond / llamaCpp.decodeTokensPerSecond,
          request: llamaCpp.requestSeconds / base.requestSeconds,
          peakRss: rgPeakRssMb / llamaCpp.peakRssMb,
        }
      : null,
    greedyTokensMatchingLlamaCpp: llamaCpp ? sameLeading(base.generatedIds, llamaCpp.generatedIds) : null,
  };
}
