import {
  ADAPTER_DTYPES,
  encodePeftAdapter,
  type LoraAdapter,
  type LoraPair,
  readPeftAdapter,
  roundTripDtype,
  toLoraWeights,
} from '@rg/lora';
import { nextTokenLogits } from '../generate/generate.js';
import { softmax } from '../generate/logits-process.js';
import { seededRandom } from '../generate/prng.js';
import { type LoraTarget, type ModelConfig, targetShape } from '../model/config.js';
import { loadModel } from '../model/load.js';
import { OrtCausalLM } from '../runtime/causal-lm.js';

const TARGETS: LoraTarget[] = ['gate_proj', 'up_proj', 'down_proj'];
const PROMPTS = [
  'The mitochondria is the powerhouse of the cell because',
  'Question: What is the capital of France?\nAnswer:',
  'In 1969, the first humans landed on',
  'Aspirin reduces the risk of heart attack by',
];

export interface AdapterDtypeBenchOptions {
  /** A known model name, a .gguf file or a Hugging Face folder (loadModel's spec); pulled when known and missing. */
  model: string;
  /** Where known models live (RG_HOME). */
  home: string;
  /** onnxruntime intra-op threads. */
  threads: number;
  /** A PEFT LoRA folder to measure; absent: a random rank-r adapter on gate/up/down. */
  adapter?: string;
  /** Rank of the random adapter. */
  rank: number;
  /** Standard deviation of the random adapter's B. */
  bStd: number;
  /** Seed of the random adapter. */
  seed: number;
}

export const ADAPTER_DTYPE_BENCH_DEFAULTS = { rank: 2, bStd: 0.02, seed: 1 } as const satisfies Partial<AdapterDtypeBenchOptions>;

/** How far one set of next-token logits is from another. */
export interface LogitsChange {
  maxAbsLogitDiff: number;
  /** KL(p_ref || p) of the next-token distributions. */
  kl: number;
  argmaxChanged: boolean;
}

export interface AdapterDtypeBenchResult {
  /** The known name, else the file or folder. */
  model: string;
  /** The folder measured, or what the random adapter was. */
  adapter: string | { random: true; rank: number; alpha: number; bStd: number; seed: number; targets: LoraTarget[] };
  prompts: number;
  adapterVsBase: LogitsChange;
  /** Per storage dtype: bytes of one adapter, and the worst change over the prompts against the fp32 adapter. */
  dtypes: Record<string, { bytesPerAdapter: number; vsFp32: LogitsChange }>;
}

/**
 * A stand-in for a trained adapter when none is given: A as PEFT's init (uniform ±1/sqrt(in)),
 * B ~ N(0, bStd²) (PEFT starts B at zero; training moves it to small values).
 */
function randomAdapter(config: ModelConfig, rank: number, bStd: number, seed: number): LoraAdapter {
  const random = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const modules = new Map<string, LoraPair>();
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const target of TARGETS) {
      const { inFeatures, outFeatures } = targetShape(config, target);
      const bound = 1 / Math.sqrt(inFeatures);
      const a = Float32Array.from({ length: rank * inFeatures }, () => (random() * 2 - 1) * bound);
      const b = Float32Array.from({ length: outFeatures * rank }, () => normal() * bStd);
      modules.set(`${layer}.${target}`, { inFeatures, outFeatures, a, b });
    }
  }
  return { config: { rank, alpha: 4 * rank, targetModules: TARGETS, baseModel: null, useRslora: false, dropout: 0 }, modules };
}

function compare(ref: Float32Array, got: Float32Array): LogitsChange {
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

function worst(rows: LogitsChange[]): LogitsChange {
  return {
    maxAbsLogitDiff: Math.max(...rows.map((r) => r.maxAbsLogitDiff)),
    kl: Math.max(...rows.map((r) => r.kl)),
    argmaxChanged: rows.some((r) => r.argmaxChanged),
  };
}

/**
 * Storage dtypes of an adapter (ADAPTER_DTYPES: fp32, fp16, int8): the bytes of each, and the change in the model's
 * next-token logits on a few prompts that storing in it causes. Bytes and logit changes do not depend on the load of the
 * machine: the runners record it and never refuse.
 */
export async function adapterDtypeBench(options: AdapterDtypeBenchOptions): Promise<AdapterDtypeBenchResult> {
  const loaded = await loadModel(options.model, { home: options.home, pull: true });
  const lm = await OrtCausalLM.load(loaded.config, loaded.weights, { threads: options.threads, loraTargets: TARGETS });
  try {
    const adapter = options.adapter
      ? readPeftAdapter(options.adapter)
      : randomAdapter(loaded.config, options.rank, options.bStd, options.seed);
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
    const dtypes: AdapterDtypeBenchResult['dtypes'] = {};
    for (const dtype of ADAPTER_DTYPES) {
      const enc = encodePeftAdapter(adapter, dtype);
      const stored = await logitsWith(roundTripDtype(adapter, dtype));
      dtypes[dtype] = {
        bytesPerAdapter: enc.config.byteLength + enc.model.byteLength,
        vsFp32: worst(stored.map((l, i) => compare(fp32[i], l))),
      };
    }
    return {
      model: loaded.source.name ?? loaded.source.path,
      adapter: options.adapter ?? {
        random: true,
        rank: options.rank,
        alpha: 4 * options.rank,
        bStd: options.bStd,
        seed: options.seed,
        targets: TARGETS,
      },
      prompts: PROMPTS.length,
      // The adapter's own effect, for scale: a dtype's change should be small next to it.
      adapterVsBase: worst(fp32.map((l, i) => compare(base[i], l))),
      dtypes,
    };
  } finally {
    await lm.dispose();
  }
}
