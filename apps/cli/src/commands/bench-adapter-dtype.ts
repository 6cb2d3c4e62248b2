import { resolve } from 'node:path';
import { type CausalLM, type LoraTarget, loadModel, nextTokenLogits, OrtCausalLM, seededRandom, softmax, targetShape } from '@rg/engine';
import {
  ADAPTER_DTYPES,
  encodePeftAdapter,
  type LoraAdapter,
  type LoraPair,
  readPeftAdapter,
  roundTripDtype,
  toLoraWeights,
} from '@rg/lora';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { positiveInt, positiveNumber } from '../parse.js';
import { benchCommand, benchRun } from './bench.js';

const TARGETS: LoraTarget[] = ['gate_proj', 'up_proj', 'down_proj'];
const PROMPTS = [
  'The mitochondria is the powerhouse of the cell because',
  'Question: What is the capital of France?\nAnswer:',
  'In 1969, the first humans landed on',
  'Aspirin reduces the risk of heart attack by',
];

interface Flags {
  adapter?: string;
  rank: number;
  bStd: number;
  seed: number;
  json?: boolean;
}

/**
 * A stand-in for a trained adapter when none is given: A as PEFT's init (uniform ±1/sqrt(in)),
 * B ~ N(0, bStd²) (PEFT starts B at zero; training moves it to small values).
 */
function randomAdapter(lm: CausalLM, rank: number, bStd: number, seed: number): LoraAdapter {
  const random = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const modules = new Map<string, LoraPair>();
  for (let layer = 0; layer < lm.config.numLayers; layer++) {
    for (const target of TARGETS) {
      const { inFeatures, outFeatures } = targetShape(lm.config, target);
      const bound = 1 / Math.sqrt(inFeatures);
      const a = Float32Array.from({ length: rank * inFeatures }, () => (random() * 2 - 1) * bound);
      const b = Float32Array.from({ length: outFeatures * rank }, () => normal() * bStd);
      modules.set(`${layer}.${target}`, { inFeatures, outFeatures, a, b });
    }
  }
  return { config: { rank, alpha: 4 * rank, targetModules: TARGETS, baseModel: null, useRslora: false, dropout: 0 }, modules };
}

/** Largest |Δlogit|, KL(p_ref || p) of the next-token distributions, and whether the top token changed. */
function compare(ref: Float32Array, got: Float32Array): { maxAbsLogitDiff: number; kl: number; argmaxChanged: boolean } {
  let maxAbs = 0;
  let am = 0;
  let bm = 0;
  for (let i = 0; i < ref.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(ref[i] - got[i]));
    if (ref[i] > ref[am]) am = i;
    if (got[i] > got[bm]) bm = i;
  }
  const p = softmax(ref);
  const q = softmax(got);
  let kl = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0) kl += p[i] * Math.log(p[i] / Math.max(q[i], 1e-30));
  return { maxAbsLogitDiff: maxAbs, kl, argmaxChanged: am !== bm };
}

function worst(rows: Array<ReturnType<typeof compare>>): ReturnType<typeof compare> {
  return {
    maxAbsLogitDiff: Math.max(...rows.map((r) => r.maxAbsLogitDiff)),
    kl: Math.max(...rows.map((r) => r.kl)),
    argmaxChanged: rows.some((r) => r.argmaxChanged),
  };
}

export function registerBenchAdapterDtype(program: Command, ctx: CliContext): void {
  benchCommand(program)
    .command('adapter-dtype')
    .description("storage dtypes of an adapter (fp32, fp16, int8): bytes, and the change in the model's next-token logits each causes")
    .option('--adapter <dir>', 'a PEFT LoRA folder to measure (default: a random rank-r adapter on gate/up/down)')
    .option('--rank <r>', 'rank of the random adapter', positiveInt, 2)
    .option('--b-std <s>', 'standard deviation of the random adapter B', positiveNumber, 0.02)
    .option('--seed <s>', 'seed of the random adapter', positiveInt, 1)
    .option('--json', 'print one JSON line')
    .action(async (flags: Flags, cmd: Command) => {
      const config = ctx.config(cmd.optsWithGlobals());
      // Bytes and logit changes do not depend on load: record it, never refuse.
      const run = benchRun(ctx, { threads: config.threads, allowBusy: true });
      const loaded = await loadModel(config.model, { home: config.home, pull: true });
      const lm = await OrtCausalLM.load(loaded.config, loaded.weights, { threads: config.threads, loraTargets: TARGETS });
      try {
        const adapter = flags.adapter
          ? readPeftAdapter(resolve(ctx.io.cwd, flags.adapter))
          : randomAdapter(lm, flags.rank, flags.bStd, flags.seed);
        const prompts = PROMPTS.map((p) => loaded.tokenizer.encode(p));
        const logitsWith = async (a: LoraAdapter | null) => {
          const set = await lm.prepareAdapters(a ? toLoraWeights(a) : null);
          const out = [];
          for (const ids of prompts) out.push(await nextTokenLogits(lm, ids, set));
          lm.release(set);
          return out;
        };
        const base = await logitsWith(null);
        const fp32 = await logitsWith(adapter);
        const dtypes: Record<string, unknown> = {};
        for (const dtype of ADAPTER_DTYPES) {
          const enc = encodePeftAdapter(adapter, dtype);
          const stored = await logitsWith(roundTripDtype(adapter, dtype));
          dtypes[dtype] = {
            bytesPerAdapter: enc.config.byteLength + enc.model.byteLength,
            vsFp32: worst(stored.map((l, i) => compare(fp32[i], l))),
          };
        }
        const result = {
          bench: 'adapter-dtype',
          ...run.finish(),
          model: loaded.source.name ?? loaded.source.path,
          adapter: flags.adapter ?? {
            random: true,
            rank: flags.rank,
            alpha: 4 * flags.rank,
            bStd: flags.bStd,
            seed: flags.seed,
            targets: TARGETS,
          },
          prompts: PROMPTS.length,
          // The adapter's own effect, for scale: a dtype's change should be small next to it.
          adapterVsBase: worst(fp32.map((l, i) => compare(base[i], l))),
          dtypes,
        };
        if (flags.json) ctx.json(result);
        else ctx.print(JSON.stringify(result, null, 2));
      } finally {
        await lm.dispose();
      }
    });
}
