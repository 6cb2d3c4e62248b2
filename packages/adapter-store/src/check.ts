import { type LoraAdapter, parseModuleKey } from '@rg/lora';

/**
 * The dimensions of the base model an adapter must fit: a subset of the engine's ModelConfig
 * (which satisfies it as is), so the store needs no dependency on the engine.
 */
export interface ModelDims {
  numLayers: number;
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
}

/** [inFeatures, outFeatures] of a Llama-family linear layer. */
export function targetDims(model: ModelDims, target: string): [number, number] | undefined {
  const q = model.numHeads * model.headDim;
  const kv = model.numKvHeads * model.headDim;
  switch (target) {
    case 'q_proj':
      return [model.hiddenSize, q];
    case 'k_proj':
    case 'v_proj':
      return [model.hiddenSize, kv];
    case 'o_proj':
      return [q, model.hiddenSize];
    case 'gate_proj':
    case 'up_proj':
      return [model.hiddenSize, model.intermediateSize];
    case 'down_proj':
      return [model.intermediateSize, model.hiddenSize];
    default:
      return undefined;
  }
}

export type ContentProblem = { kind: 'bad_values' | 'wrong_shape'; message: string };

/**
 * The first NaN or infinite weight of an adapter, named by layer, module and tensor. A diverged
 * training run or a corrupted export gives NaN logits and empty answers later, far from the cause.
 * `x * 0` is 0 for every finite x and NaN otherwise, so one multiply-add per value finds both
 * without overflow false alarms; the index is searched for only when the sum says there is one.
 */
export function findNonFinite(adapter: LoraAdapter): ContentProblem | undefined {
  for (const [key, pair] of adapter.modules) {
    for (const [which, data] of [
      ['lora_A', pair.a],
      ['lora_B', pair.b],
    ] as const) {
      if (allFinite(data)) continue;
      const at = data.findIndex((x) => !Number.isFinite(x));
      const { layer, target } = parseModuleKey(key);
      return {
        kind: 'bad_values',
        message: `layer ${layer} ${target} ${which} holds ${data[at]} at index ${at} of ${data.length} (non-finite weights: a diverged training run or a damaged file); delete or retrain it`,
      };
    }
  }
  return undefined;
}

/**
 * Four independent sums let the CPU overlap the additions (one sum is bound by add latency):
 * ~0.5 ns per value, about 1 ms for a rank-8 SmolLM2-135M adapter, a fraction of reading and hashing it.
 */
function allFinite(d: Float32Array): boolean {
  let p0 = 0;
  let p1 = 0;
  let p2 = 0;
  let p3 = 0;
  const n = d.length - (d.length % 4);
  let i = 0;
  for (; i < n; i += 4) {
    p0 += d[i] * 0;
    p1 += d[i + 1] * 0;
    p2 += d[i + 2] * 0;
    p3 += d[i + 3] * 0;
  }
  for (; i < d.length; i++) p0 += d[i] * 0;
  return p0 + p1 + p2 + p3 === 0;
}

/** Does every module fit the model (layer in range, known target, in and out features)? */
export function findShapeMismatch(adapter: LoraAdapter, model: ModelDims): ContentProblem | undefined {
  for (const [key, pair] of adapter.modules) {
    const { layer, target } = parseModuleKey(key);
    if (layer >= model.numLayers) {
      return {
        kind: 'wrong_shape',
        message: `layer ${layer} ${target}: the model has ${model.numLayers} layers (0..${model.numLayers - 1})`,
      };
    }
    const want = targetDims(model, target);
    if (!want) return { kind: 'wrong_shape', message: `layer ${layer} ${target}: not a linear layer of the model` };
    if (pair.inFeatures !== want[0] || pair.outFeatures !== want[1]) {
      return {
        kind: 'wrong_shape',
        message:
          `layer ${layer} ${target} maps ${pair.inFeatures} -> ${pair.outFeatures} features, the model's ${target} maps ${want[0]} -> ${want[1]} ` +
          `(hidden ${model.hiddenSize}, intermediate ${model.intermediateSize}): trained for another model`,
      };
    }
  }
  return undefined;
}

function normalized(name: string): string {
  const base = name.split('/').pop() ?? name;
  return base
    .toLowerCase()
    .replace(/\.gguf$/, '')
    .replace(/[^a-z0-9]+/g, '');
}

/**
 * A warning when PEFT's base_model_name_or_path names another model than the one the adapter is
 * stored under (informative only in PEFT, so a mismatch warns instead of failing). Names match
 * loosely: "smollm2-135m-instruct" and "HuggingFaceTB/SmolLM2-135M-Instruct" are the same model.
 */
export function baseModelWarning(adapter: LoraAdapter, model: string, name: string): string | undefined {
  const base = adapter.config.baseModel;
  if (!base) return undefined;
  const a = normalized(base);
  const b = normalized(model);
  if (a === '' || b === '' || a.includes(b) || b.includes(a)) return undefined;
  return `${name}: its adapter_config.json says base_model_name_or_path "${base}", but it is stored for model "${model}": check it was trained for this model`;
}
