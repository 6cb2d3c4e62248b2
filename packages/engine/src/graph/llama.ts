import { LORA_TARGETS, type LoraTarget, type ModelConfig, targetShape } from '../model/config.js';
import { GraphBuilder } from './builder.js';
import {
  embed,
  groupedAttention,
  type LinearWeight,
  type LoraValues,
  linear,
  linearGroup,
  type NbitsWeight,
  paddedCausalMask,
  rmsNorm,
  ropeCaches,
  rotary,
  swiGlu,
} from './ops.js';
import { ropeInverseFrequencies } from './rope.js';

/** Graph input/output names shared by the graph and the sessions that feed it. */
export const io = {
  inputIds: 'input_ids',
  /** int64 `[1]`: logits are computed for the last `numLogits` positions only. */
  numLogits: 'num_logits',
  logits: 'logits',
  /**
   * The KV cache `[batch, kvHeads, capacity, headDim]`: a buffer with room to grow, of which `attention_mask` says
   * which columns hold tokens (the rest is never read: masked).
   */
  pastKey: (layer: number) => `past_key.${layer}`,
  pastValue: (layer: number) => `past_value.${layer}`,
  /** The new tokens' keys and values only, `[batch, kvHeads, seq, headDim]`: the caller appends them to its cache. */
  presentKey: (layer: number) => `present_key.${layer}`,
  presentValue: (layer: number) => `present_value.${layer}`,
  /** int64 `[batch, seq]`: each row's positions (its own past length onward). */
  positionIds: 'position_ids',
  /** int64 `[batch, capacity + seq]`: 1 where the column holds a token of the row, 0 for padding and unused capacity. */
  attentionMask: 'attention_mask',
  loraA: (layer: number, target: LoraTarget) => `lora.${layer}.${target}.A`,
  loraB: (layer: number, target: LoraTarget) => `lora.${layer}.${target}.B`,
};

/**
 * Positions the graph's rotary tables cover: the model's own maximum, and at least 8192 (a small model's nominal
 * maximum should not stop a long test or a long prompt that the model merely handles worse).
 */
export function ropePositions(config: ModelConfig): number {
  return Math.max(config.maxPositionEmbeddings, 8192);
}

export interface LlamaGraphOptions {
  /** Modules that get LoRA inputs (default: all seven). Fewer targets mean fewer nodes. */
  loraTargets?: readonly LoraTarget[];
  /**
   * How a projection weight (by Hugging Face name, e.g. 'model.layers.0.mlp.up_proj.weight' or
   * 'lm_head.weight') enters the graph. Default (or when it returns undefined): a dense fp32 graph input.
   */
  linearWeight?: (g: GraphBuilder, name: string, inFeatures: number, outFeatures: number) => LinearWeight | undefined;
  /**
   * Projections of one input (q, k, v; gate, up) as one compact weight whose rows are theirs stacked, split after the
   * product. Undefined (or returning undefined): one weight per projection.
   */
  linearGroup?: (g: GraphBuilder, names: string[], inFeatures: number, outFeatures: number[]) => NbitsWeight | undefined;
  /**
   * Rows of the batch are separate requests, each with its own LoRA pair (`lora.*.A` `[batch, r, in]`, `.B`
   * `[batch, out, r]`, zeros past a row's own rank). Default false: batch rows share adapters. Either way every row has
   * its own positions (`position_ids`) and columns (`attention_mask`), so caches of different lengths can share one
   * left-padded cache tensor.
   */
  perRow?: boolean;
}

export interface LlamaGraph {
  model: Uint8Array;
  /** Graph inputs that carry model weights, by Hugging Face name (fed from ModelWeights). */
  weightInputs: string[];
  loraTargets: LoraTarget[];
}

/**
 * The Llama-family decoder (Llama, Mistral, Qwen2, SmolLM2) as one ONNX graph serving both prefill
 * and decode: it takes the new token ids plus the KV cache so far (past length may be 0) and returns
 * logits for the last `num_logits` positions and the extended cache.
 */
export function buildLlamaGraph(config: ModelConfig, options: LlamaGraphOptions = {}): LlamaGraph {
  const g = new GraphBuilder(`${config.architecture}-decoder`);
  const loraTargets = [...(options.loraTargets ?? LORA_TARGETS)];
  const weightInputs: string[] = [];
  const weightInput = (name: string, dims: number[]) => {
    weightInputs.push(name);
    return g.input(name, 'float32', dims);
  };
  const projection = (name: string, inFeatures: number, outFeatures: number): LinearWeight =>
    options.linearWeight?.(g, name, inFeatures, outFeatures) ?? { kind: 'dense', weight: weightInput(name, [outFeatures, inFeatures]) };

  const { hiddenSize: hidden, numHeads, numKvHeads, headDim } = config;
  const ids = g.input(io.inputIds, 'int64', ['batch', 'seq']);
  const numLogits = g.input(io.numLogits, 'int64', [1]);
  const batchSeq = g.op('Shape', [ids]);
  const seqLen = g.op('Gather', [batchSeq, g.int(1)], { axis: 0 });
  const cacheDims = ['batch', numKvHeads, 'capacity', headDim];
  const capacity = g.op('Gather', [g.op('Shape', [g.input(io.pastKey(0), 'float32', cacheDims)]), g.int(2)], { axis: 0 });

  const perRow = options.perRow ?? false;
  const positionIds = g.input(io.positionIds, 'int64', ['batch', 'seq']);
  const rope = ropeCaches(g, ropeInverseFrequencies(config), ropePositions(config));
  const mask = paddedCausalMask(g, g.input(io.attentionMask, 'int64', ['batch', 'total']), seqLen, capacity, numHeads / numKvHeads);
  // The attention's split of its scores into cache and new columns, once for every layer.
  const columns = g.op('Concat', [g.op('Unsqueeze', [capacity, g.ints([0])]), g.op('Unsqueeze', [seqLen, g.ints([0])])], { axis: 0 });
  const headsShape = (heads: number) => g.op('Concat', [batchSeq, g.ints([heads, headDim])], { axis: 0 });
  const tokensShape = g.op('Concat', [batchSeq, g.ints([-1])], { axis: 0 });

  const embedName = 'model.embed_tokens.weight';
  let x = embed(g, weightInput(embedName, [config.vocabSize, hidden]), ids);

  for (let layer = 0; layer < config.numLayers; layer++) {
    const p = `model.layers.${layer}`;
    const loraFor = (target: LoraTarget): LoraValues | undefined => {
      if (!loraTargets.includes(target)) return undefined;
      const { inFeatures, outFeatures } = targetShape(config, target);
      const rank = `rank.${layer}.${target}`;
      if (perRow) {
        return {
          a: g.input(io.loraA(layer, target), 'float32', ['batch', rank, inFeatures]),
          b: g.input(io.loraB(layer, target), 'float32', ['batch', outFeatures, rank]),
          perRow,
        };
      }
      return {
        a: g.input(io.loraA(layer, target), 'float32', [rank, inFeatures]),
        b: g.input(io.loraB(layer, target), 'float32', [outFeatures, rank]),
      };
    };
    const biasFor = (parent: string, target: LoraTarget) =>
      config.attentionBias && ['q_proj', 'k_proj', 'v_proj'].includes(target)
        ? weightInput(`${p}.${parent}.${target}.bias`, [targetShape(config, target).outFeatures])
        : undefined;
    const proj = (parent: string, target: LoraTarget, input: string) => {
      const { inFeatures, outFeatures } = targetShape(config, target);
      const weight = projection(`${p}.${parent}.${target}.weight`, inFeatures, outFeatures);
      return linear(g, input, weight, biasFor(parent, target), loraFor(target));
    };
    // Projections that read the same input, through one weight where the format allows (fewer, larger products).
    const projGroup = (parent: string, targets: LoraTarget[], input: string) => {
      const shapes = targets.map((t) => targetShape(config, t));
      const names = targets.map((t) => `${p}.${parent}.${t}.weight`);
      const fused = options.linearGroup?.(
        g,
        names,
        shapes[0].inFeatures,
        shapes.map((s) => s.outFeatures),
      );
      if (!fused) return targets.map((t) => proj(parent, t, input));
      const parts = targets.map((t, i) => ({ outFeatures: shapes[i].outFeatures, bias: biasFor(parent, t), lora: loraFor(t) }));
      return linearGroup(g, input, fused, parts);
    };

    // Attention block.
    const h = rmsNorm(g, x, weightInput(`${p}.input_layernorm.weight`, [hidden]), config.rmsNormEps);
    const [qLinear, kLinear, vLinear] = projGroup('self_attn', ['q_proj', 'k_proj', 'v_proj'], h);
    const rotated = (t: string, heads: number) =>
      g.op('Reshape', [rotary(g, g.op('Reshape', [t, tokensShape]), positionIds, rope, heads), headsShape(heads)]);
    const q = rotated(qLinear, numHeads);
    const kNew = rotated(kLinear, numKvHeads);
    const vNew = g.op('Reshape', [vLinear, headsShape(numKvHeads)]);
    const past = {
      k: layer === 0 ? io.pastKey(0) : g.input(io.pastKey(layer), 'float32', cacheDims),
      v: g.input(io.pastValue(layer), 'float32', cacheDims),
    };
    // Only the new tokens' K/V leave the graph: the cache grows in place where it lives, instead of being copied into
    // a new, longer output every step.
    const toCache = (t: string, name: string) => g.op('Transpose', [t], { perm: [0, 2, 1, 3] }, [name]);
    const fresh = { k: toCache(kNew, io.presentKey(layer)), v: toCache(vNew, io.presentValue(layer)) };
    g.output(fresh.k, 'float32', ['batch', numKvHeads, 'seq', headDim]);
    g.output(fresh.v, 'float32', ['batch', numKvHeads, 'seq', headDim]);
    const attn = groupedAttention(g, q, past, fresh, mask, columns, { numHeads, numKvHeads, headDim }, batchSeq);
    x = g.op('Add', [x, proj('self_attn', 'o_proj', g.op('Reshape', [attn, g.ints([-1, numHeads * headDim])]))]);

    // MLP block.
    const m = rmsNorm(g, x, weightInput(`${p}.post_attention_layernorm.weight`, [hidden]), config.rmsNormEps);
    const [gate, up] = projGroup('mlp', ['gate_proj', 'up_proj'], m);
    const gated = swiGlu(g, gate, up);
    x = g.op('Add', [x, proj('mlp', 'down_proj', gated)]);
  }

  // Only the last num_logits positions reach the LM head: generation needs one, scoring a few.
  const last = g.op('Slice', [
    g.op('Reshape', [x, g.op('Concat', [batchSeq, g.ints([hidden])], { axis: 0 })]),
    g.op('Neg', [numLogits]),
    g.ints([2 ** 31 - 1]),
    g.ints([1]),
  ]);
  const normed = rmsNorm(g, g.op('Reshape', [last, g.ints([-1, hidden])]), weightInput('model.norm.weight', [hidden]), config.rmsNormEps);
  const headName = config.tieWordEmbeddings ? embedName : 'lm_head.weight';
  const head = options.linearWeight?.(g, headName, hidden, config.vocabSize) ?? {
    kind: 'dense' as const,
    weight: config.tieWordEmbeddings ? embedName : weightInput(headName, [config.vocabSize, hidden]),
  };
  const logits = linear(g, normed, head);
  const batch = g.op('Slice', [batchSeq, g.ints([0]), g.ints([1])]);
  g.op('Reshape', [logits, g.op('Concat', [batch, g.ints([-1, config.vocabSize])], { axis: 0 })], {}, [io.logits]);
  g.output(io.logits, 'float32', ['batch', 'num_logits', config.vocabSize]);

  return {
    // com.microsoft: RotaryEmbedding always, MatMulNBits for compact weights.
    model: g.toBytes(18, [{ domain: 'com.microsoft', version: 1 }]),
    weightInputs,
    loraTargets,
  };
}
