import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median } from '@rg/bench-kit';
import {
  type AdapterSet,
  LORA_TARGETS,
  type LoadedModel,
  type LoraTarget,
  loadModel,
  OrtCausalLM,
  randomLora,
  seededRandom,
} from '@rg/engine';
import { composeCat, type LoraWeights } from '@rg/lora';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { intList, positiveInt } from '../parse.js';
import { allowBusyOption, benchCommand, benchRun } from './bench.js';
import { type Flags, measureBatch, measureConcurrent } from './bench-generate-batch.js';

interface Timing {
  /** Next-token logits after the prompt (to compare weight formats). */
  promptLogits: Float32Array;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  requestSeconds: number;
  generatedIds: number[];
}

/**
 * One session; for each adapter set (null = none) requests of a prefill then greedy one-token decode
 * steps. Requests of the sets are interleaved (a warm-up each first), so load drifting on a shared
 * machine hits them alike; medians over runs.
 */
async function measure(
  model: LoadedModel,
  prompt: number[],
  flags: Flags,
  threads: number,
  loraTargets: LoraTarget[],
  sets: Array<LoraWeights | null>,
): Promise<Array<Timing & { sessionCreateMs: number }>> {
  const t0 = performance.now();
  const lm = await OrtCausalLM.load(model.config, model.weights, { threads, weightFormat: flags.weights, loraTargets });
  const sessionCreateMs = performance.now() - t0;
  const argmax = (l: Float32Array) => l.reduce((best, v, i) => (v > l[best] ? i : best), 0);
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
    for (let i = 0; i < flags.runs; i++) for (const [k, adapters] of prepared.entries()) runs[k].push(await one(adapters, flags.newTokens));
    return runs.map((rs) => {
      const prefillMs = median(rs.map((r) => r.prefillMs));
      const decodeMs = median(rs.map((r) => r.totalMs - r.prefillMs));
      return {
        prefillTokensPerSecond: prompt.length / (prefillMs / 1000),
        decodeTokensPerSecond: (flags.newTokens - 1) / (decodeMs / 1000),
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

export function registerBenchGenerate(program: Command, ctx: CliContext): void {
  benchCommand(program)
    .command('generate')
    .description(
      'prefill and decode tokens/s, with 0 and with k concatenated LoRA adapters, peak RSS; peer transformers generate (PyTorch CPU fp32)',
    )
    .option('--prompt-tokens <n>', 'prompt length (seeded random ids)', positiveInt, 512)
    .option('--new-tokens <n>', 'greedy tokens generated per request', positiveInt, 128)
    .option('--runs <n>', 'timed requests per configuration (median reported), after one warm-up', positiveInt, 3)
    .option('--adapters <k>', 'adapters concatenated in the adapter configuration', positiveInt, 3)
    .option('--rank <r>', 'rank of each adapter', positiveInt, 2)
    .addOption(new Option('--weights <format>', 'projection weights').choices(['f32', 'q4']).default('f32'))
    .option('--no-peer', 'skip the transformers peer')
    .option('--python <path>', 'Python with torch and transformers (tools/.venv)', 'tools/.venv/bin/python')
    .option(
      '--llamacpp',
      'also run llama.cpp (node-llama-cpp, tools/bench/generate_llamacpp.mjs; install: npm i --prefix tools/bench/llamacpp --ignore-scripts) on the same GGUF and prompt ids',
    )
    .option(
      '--batch <sizes>',
      'instead: batches of separate requests with their own adapters (e.g. 1,4,8), prefill and decode tokens/s per size, then the largest size of concurrent requests through the DecodeBatcher vs served one after another',
      intList,
    )
    .addOption(allowBusyOption())
    .option('--json', 'print one JSON line')
    .action(async (flags: Flags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      const run = benchRun(ctx, { threads: config.threads, allowBusy: flags.allowBusy ?? false });
      // Before any timing: a peer that is not installed fails the run at once, not after rg's minutes.
      const llamaCppInstalled = resolve(ctx.io.cwd, 'tools/bench/llamacpp/node_modules/node-llama-cpp');
      if (flags.llamacpp && !existsSync(llamaCppInstalled))
        throw new UsageError(
          `--llamacpp: ${llamaCppInstalled} not found: from the repository root, npm i --prefix tools/bench/llamacpp --ignore-scripts (about 700 MB)`,
        );
      const model = await loadModel(config.model, { home: config.home, pull: true });
      if (flags.batch) {
        const sizes = flags.batch;
        if (sizes.some((b) => b < 1)) throw new UsageError('--batch: sizes must be positive');
        const lm = await OrtCausalLM.load(model.config, model.weights, { threads: config.threads, weightFormat: flags.weights });
        try {
          const batches = [];
          for (const b of sizes) {
            ctx.info(`rg: batch ${b}: ${flags.runs} runs of ${flags.promptTokens} prompt + ${flags.newTokens} tokens per row ...`);
            batches.push(await measureBatch(lm, model, flags, b));
          }
          const requests = Math.max(...sizes);
          ctx.info(`rg: ${requests} concurrent requests, one after another and through the batcher, ${flags.runs} runs ...`);
          const concurrent = await measureConcurrent(lm, model, flags, requests);
          const result = {
            bench: 'generate',
            mode: 'batch',
            ...run.finish(),
            model: config.model,
            weights: flags.weights,
            promptTokens: flags.promptTokens,
            newTokens: flags.newTokens,
            runs: flags.runs,
            adaptersPerRequest: { count: flags.adapters, rank: flags.rank, targets: LORA_TARGETS },
            batches,
            concurrent,
            peakRssMb: process.resourceUsage().maxRSS / 1024,
          };
          if (flags.json) ctx.json(result);
          else ctx.print(JSON.stringify(result, null, 2));
        } finally {
          await lm.dispose();
        }
        return;
      }
      const random = seededRandom(1);
      // Ordinary (non-special) token ids, so the prompt is a plausible text for both implementations.
      const prompt = Array.from({ length: flags.promptTokens }, () => 100 + Math.floor(random() * (model.config.vocabSize - 100)));
      const adapterSet = composeCat(
        Array.from({ length: flags.adapters }, (_, i) => ({ weights: randomLora(model.config, flags.rank, LORA_TARGETS, 100 + i, 0.01) })),
      );
      ctx.info(`rg: ${flags.runs} requests on a graph without LoRA inputs ...`);
      const [base] = await measure(model, prompt, flags, config.threads, [], [null]);
      ctx.info(
        `rg: ${flags.runs} requests each with rank 0 and ${flags.adapters} rank-${flags.rank} adapters on ${LORA_TARGETS.length} modules ...`,
      );
      const [rank0, adapted] = await measure(model, prompt, flags, config.threads, [...LORA_TARGETS], [null, adapterSet]);
      const rgPeakRssMb = process.resourceUsage().maxRSS / 1024;

      // The effect of compact weights on the numbers: next-token logits after the prompt vs exact fp32.
      let logitsVsF32: Record<string, number | boolean> | null = null;
      if (flags.weights !== 'f32') {
        ctx.info('rg: f32 reference logits for the prompt ...');
        const exact = await OrtCausalLM.load(model.config, model.weights, { threads: config.threads, loraTargets: [] });
        const ref = (await exact.forward({ ids: prompt })).logits;
        await exact.dispose();
        const got = base.promptLogits;
        let maxAbs = 0;
        for (let i = 0; i < ref.length; i++) maxAbs = Math.max(maxAbs, Math.abs(ref[i] - got[i]));
        const range = Math.max(...ref) - Math.min(...ref);
        const top = (l: Float32Array) => l.reduce((best, v, i) => (v > l[best] ? i : best), 0);
        logitsVsF32 = { maxAbsDiff: maxAbs, maxAbsDiffOverRange: maxAbs / range, top1Equal: top(ref) === top(got) };
      }

      type PeerTiming = Timing & { peer: string; peakRssMb: number };
      /** A peer script on the same GGUF and prompt ids; it prints one JSON line. */
      const runPeer = (what: string, command: string, script: string, noFlag: string): PeerTiming => {
        if (!existsSync(script)) throw new UsageError(`${script}: not found (run from the repository root, or pass ${noFlag})`);
        if (model.source.kind !== 'gguf') throw new UsageError(`the peers load GGUF files only: use a .gguf model or ${noFlag}`);
        const dir = mkdtempSync(join(tmpdir(), 'rg-bench-'));
        try {
          const idsFile = join(dir, 'ids.json');
          writeFileSync(idsFile, JSON.stringify(prompt));
          ctx.info(`peer: ${what} ...`);
          const args = [script, '--gguf', model.source.path, '--ids-file', idsFile, '--new', String(flags.newTokens)];
          const peerRun = spawnSync(command, [...args, '--runs', String(flags.runs), '--threads', String(config.threads)], {
            encoding: 'utf8',
            maxBuffer: 1 << 24,
          });
          if (peerRun.status !== 0) throw new Error(`peer ${what} failed (exit ${peerRun.status}): ${peerRun.stderr.slice(-2000)}`);
          return JSON.parse(peerRun.stdout.trim().split('\n').pop() as string);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      };
      let peer: PeerTiming | null = null;
      if (flags.peer) {
        const python = resolve(ctx.io.cwd, flags.python);
        if (!existsSync(python)) throw new UsageError(`--python ${python}: not found (create tools/.venv, or pass --no-peer)`);
        peer = runPeer('transformers generate', python, resolve(ctx.io.cwd, 'tools/bench/generate_peer.py'), '--no-peer');
      }
      let llamaCpp: PeerTiming | null = null;
      if (flags.llamacpp) {
        llamaCpp = runPeer('llama.cpp', process.execPath, resolve(ctx.io.cwd, 'tools/bench/generate_llamacpp.mjs'), 'no --llamacpp');
      }
      const sameLeading = (a: number[], b: number[]) => {
        let n = 0;
        while (n < Math.min(a.length, b.length) && a[n] === b[n]) n++;
        return n;
      };
      const strip = <T extends Timing>({ generatedIds: _ids, promptLogits: _logits, ...t }: T) => t;
      const result = {
        bench: 'generate',
        ...run.finish(),
        model: config.model,
        weights: flags.weights,
        promptTokens: flags.promptTokens,
        newTokens: flags.newTokens,
        runs: flags.runs,
        rg: {
          noLoraGraph: strip(base),
          loraGraphRank0: strip(rank0),
          adapters: { count: flags.adapters, rank: flags.rank, targets: LORA_TARGETS, ...strip(adapted) },
          // The cost of applying the adapters in a session that serves requests with and without them.
          adapterLatencyCost: adapted.requestSeconds / rank0.requestSeconds - 1,
          // The same against a graph built with no LoRA inputs at all.
          adapterLatencyCostVsNoLoraGraph: adapted.requestSeconds / base.requestSeconds - 1,
          peakRssMb: rgPeakRssMb,
        },
        peer: peer ? strip(peer) : null,
        logitsVsF32,
        ratios: peer
          ? {
              prefill: base.prefillTokensPerSecond / peer.prefillTokensPerSecond,
              decode: base.decodeTokensPerSecond / peer.decodeTokensPerSecond,
              request: peer.requestSeconds / base.requestSeconds,
            }
          : null,
        greedyTokensMatchingPeer: peer ? sameLeading(base.generatedIds, peer.generatedIds) : null,
        // llama.cpp runs the GGUF's own quantized weights: rg with --weights q4 is the like-for-like comparison.
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
      if (flags.json) ctx.json(result);
      else ctx.print(JSON.stringify(result, null, 2));
    });
}
