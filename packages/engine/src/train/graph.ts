import { type DTypeName, GraphBuilder } from '../graph/builder.js';
import { LORA_TARGETS, type LoraTarget, type ModelConfig, targetParent, targetShape } from '../model/config.js';
import { type AttentionContext, attentionBackward, attentionForward, attentionMask } from './attention.js';
import { adapterCount, type BatchedLinearSaved, batchedLinearBackward, batchedLinearForward } from './batched-lora.js';
import { crossEntropyBackward, crossEntropyForward } from './cross-entropy.js';
import { DISTILL_IO, distillLossBackward, distillLossForward } from './distill-loss.js';
import { embeddingForward } from './embedding.js';
import { groupedCrossEntropyBackward, groupedCrossEntropyForward } from './grouped-cross-entropy.js';
import { type LinearSaved, type LoraBranch, linearBackward, linearForward } from './linear.js';
import { type FloatType, Ops } from './ops.js';
import { rmsNormBackward, rmsNormForward } from './rmsnorm.js';
import { ropeTables } from './rope.js';
import { swiGluBackward, swiGluForward } from './swiglu.js';

export interface TrainingGraphOptions {
  /** Modules that carry a LoRA branch (in every layer listed in `layers`). */
  targets: readonly LoraTarget[];
  /** Layers with LoRA; default all. */
  layers?: readonly number[];
  /** float32 for training; float64 for gradient checks. */
  dtype?: FloatType;
  /**
   * G adapters per batch (batched-lora.ts): LoRA inputs [G, rank, in] / [G, out, rank], the batch's sequences
   * split into G consecutive equal groups, loss = the sum of the groups' mean losses (also output per group as
   * adapter_losses [G]), gradients [G, ...]. Default false: one adapter, loss = the batch mean.
   */
  batchedAdapters?: boolean;
  /**
   * Soft targets as well (distill-loss.ts): inputs teacher_ids, teacher_probs, teacher_mask and distill_weight λ,
   * loss = CE over the labels + λ·KL(teacher ‖ student) over the masked positions, output distill_kl. One adapter only.
   */
  distill?: boolean;
  /**
   * Gradient checkpointing: keep only each layer's input for the backward pass and recompute the layer's forward
   * when its backward starts. Peak memory then holds one layer's activations instead of every layer's (the part of
   * a step's memory that grows with the sequence, and with its square for attention), for one more forward of the
   * layers (~+30% step time). Gradients are those of the graph without it (same ops on the same values).
   */
  checkpoint?: boolean;
}

/** One LoRA module of the graph: its input names and the names of its gradient outputs. */
export interface TrainingModule {
  layer: number;
  target: LoraTarget;
  inFeatures: number;
  outFeatures: number;
  /** Input [rank, in] ([G, rank, in] with batchedAdapters). */
  a: string;
  /** Input [out, rank], unscaled (PEFT's lora_B); [G, out, rank] with batchedAdapters. */
  b: string;
  gradA: string;
  gradB: string;
}

export interface TrainingGraph {
  bytes: Uint8Array;
  dtype: FloatType;
  /** Base weights the graph takes as inputs, by Hugging Face name (frozen: no gradient outputs). */
  weightNames: string[];
  modules: TrainingModule[];
  /** Built with TrainingGraphOptions.batchedAdapters. */
  batchedAdapters: boolean;
  /** Built with TrainingGraphOptions.distill. */
  distill: boolean;
  /** Built with TrainingGraphOptions.checkpoint. */
  checkpoint: boolean;
}

/** Graph input and output names besides weights and LoRA tensors. */
export const TRAIN_IO = {
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  labels: 'labels',
  /** Scalar alpha / rank. */
  loraScale: 'lora_scale',
  loss: 'loss',
  /** batchedAdapters: [G], each adapter's mean loss over its sequences. */
  adapterLosses: 'adapter_losses',
} as const;

export const loraInputName = (layer: number, target: string, m: 'A' | 'B') => `lora.${layer}.${target}.${m}`;
export const loraGradName = (layer: number, target: string, m: 'A' | 'B') => `grad.${layer}.${target}.${m}`;

const ATTN: LoraTarget[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj'];

/**
 * The causal-LM loss of a Llama-family model and its gradient with respect to every LoRA A and B.
 * Inputs: input_ids, attention_mask, labels (int64 [B, S], -100 = ignored), lora_scale, the base
 * weights (frozen) and lora.{layer}.{target}.A/B (dynamic rank). Outputs: loss and
 * grad.{layer}.{target}.A/B. Backward work that no LoRA gradient needs is not built: nothing below
 * the lowest LoRA layer, and in that layer only the path from the loss down to its LoRA modules.
 */
export function buildTrainingGraph(config: ModelConfig, options: TrainingGraphOptions): TrainingGraph {
  const dtype = options.dtype ?? 'float32';
  const batched = options.batchedAdapters ?? false;
  const perAdapter = (dims: (number | string)[]) => (batched ? ['adapters', ...dims] : dims);
  const layers = new Set(options.layers ?? Array.from({ length: config.numLayers }, (_, i) => i));
  if (options.targets.length === 0 || layers.size === 0) throw new Error('training graph: no LoRA targets or layers');
  const distill = options.distill ?? false;
  if (distill && batched) throw new Error('training graph: distill is built for one adapter, not with batchedAdapters');
  const g = new GraphBuilder('rg-train');
  const o = new Ops(g, dtype);
  const weightNames: string[] = [];
  const weight = (name: string, dims: number[]) => {
    weightNames.push(name);
    return g.input(name, dtype as DTypeName, dims);
  };
  const h = config.hiddenSize;

  const inputIds = g.input(TRAIN_IO.inputIds, 'int64', ['batch', 'seq']);
  const mask = g.input(TRAIN_IO.attentionMask, 'int64', ['batch', 'seq']);
  const labels = g.input(TRAIN_IO.labels, 'int64', ['batch', 'seq']);
  const scale = g.input(TRAIN_IO.loraScale, dtype, []);
  const embed = weight('model.embed_tokens.weight', [config.vocabSize, h]);

  const batchShape = o.unary('Shape', inputIds);
  const seqLen = g.op('Gather', [batchShape, g.int(1)], { axis: 0 });
  const ctx: AttentionContext = {
    numHeads: config.numHeads,
    numKvHeads: config.numKvHeads,
    headDim: config.headDim,
    rope: ropeTables(o, config, seqLen),
    mask: attentionMask(o, mask, seqLen, config.numHeads / config.numKvHeads),
    batchShape,
  };

  const modules: TrainingModule[] = [];
  const lowestLoraLayer = Math.min(...layers);

  // Each layer's graph inputs (weights, LoRA A and B), declared once: a checkpointed backward runs the layer again on them.
  const layerInputs = Array.from({ length: config.numLayers }, (_, l) => {
    const p = `model.layers.${l}`;
    const lora = (target: LoraTarget): LoraBranch | undefined => {
      if (!layers.has(l) || !options.targets.includes(target)) return undefined;
      const { inFeatures, outFeatures } = targetShape(config, target);
      const m: TrainingModule = {
        layer: l,
        target,
        inFeatures,
        outFeatures,
        a: g.input(loraInputName(l, target, 'A'), dtype, perAdapter(['rank', inFeatures])),
        b: g.input(loraInputName(l, target, 'B'), dtype, perAdapter([outFeatures, 'rank'])),
        gradA: loraGradName(l, target, 'A'),
        gradB: loraGradName(l, target, 'B'),
      };
      modules.push(m);
      return { a: m.a, b: m.b, scale };
    };
    const projections = Object.fromEntries(
      LORA_TARGETS.map((target) => {
        const { inFeatures, outFeatures } = targetShape(config, target);
        const w = weight(`${p}.${targetParent(target)}.${target}.weight`, [outFeatures, inFeatures]);
        const bias =
          config.attentionBias && ['q_proj', 'k_proj', 'v_proj'].includes(target)
            ? weight(`${p}.self_attn.${target}.bias`, [outFeatures])
            : undefined;
        return [target, { w, bias, branch: lora(target) }];
      }),
    ) as Record<LoraTarget, { w: string; bias?: string; branch?: LoraBranch }>;
    const norm1 = weight(`${p}.input_layernorm.weight`, [h]);
    const norm2 = weight(`${p}.post_attention_layernorm.weight`, [h]);
    return { projections, norm1, norm2 };
  });
  const layerForward = (l: number, x: string) => {
    const { projections, norm1, norm2 } = layerInputs[l];
    const proj = (target: LoraTarget, input: string) => {
      const { w, bias, branch } = projections[target];
      return batched && branch ? batchedLinearForward(o, input, w, bias, branch) : linearForward(o, input, w, bias, branch);
    };
    const n1 = rmsNormForward(o, x, norm1, config.rmsNormEps);
    const q = proj('q_proj', n1.y);
    const k = proj('k_proj', n1.y);
    const v = proj('v_proj', n1.y);
    const att = attentionForward(o, ctx, q.y, k.y, v.y);
    const out = proj('o_proj', att.y);
    const x2 = o.add(x, out.y);
    const n2 = rmsNormForward(o, x2, norm2, config.rmsNormEps);
    const gate = proj('gate_proj', n2.y);
    const up = proj('up_proj', n2.y);
    const act = swiGluForward(o, gate.y, up.y);
    const down = proj('down_proj', act.m);
    return { y: o.add(x2, down.y), saved: { n1, q, k, v, att, out, n2, gate, up, act, down } };
  };
  type LayerSaved = ReturnType<typeof layerForward>['saved'];

  const checkpoint = options.checkpoint ?? false;
  let x = embeddingForward(o, embed, inputIds, h);
  /** Per layer: what its backward reads (every activation), or with `checkpoint` only its input. */
  const saved: Array<LayerSaved | string> = [];
  for (let l = 0; l < config.numLayers; l++) {
    const layer = layerForward(l, x);
    saved.push(checkpoint ? x : layer.saved);
    x = layer.y;
  }
  const final = rmsNormForward(o, x, weight('model.norm.weight', [h]), config.rmsNormEps);
  const head = config.tieWordEmbeddings ? embed : weight('lm_head.weight', [config.vocabSize, h]);
  let lossBackward: () => string;
  if (distill) {
    const d = distillLossForward(
      o,
      final.y,
      labels,
      g.input(DISTILL_IO.teacherIds, 'int64', ['batch', 'seq', 'topk']),
      g.input(DISTILL_IO.teacherProbs, dtype, ['batch', 'seq', 'topk']),
      g.input(DISTILL_IO.teacherMask, 'int64', ['batch', 'seq']),
      head,
      g.input(DISTILL_IO.distillWeight, dtype, []),
    );
    g.outputAs(d.loss, TRAIN_IO.loss, dtype, []);
    g.outputAs(d.kl, DISTILL_IO.distillKl, dtype, []);
    lossBackward = () => distillLossBackward(o, d.saved);
  } else if (batched) {
    const ce = groupedCrossEntropyForward(o, final.y, labels, head, adapterCount(o, modules[0].a));
    g.outputAs(ce.loss, TRAIN_IO.loss, dtype, []);
    g.outputAs(ce.groupLosses, TRAIN_IO.adapterLosses, dtype, ['adapters']);
    lossBackward = () => groupedCrossEntropyBackward(o, ce.saved);
  } else {
    const ce = crossEntropyForward(o, final.y, labels, head);
    g.outputAs(ce.loss, TRAIN_IO.loss, dtype, []);
    lossBackward = () => crossEntropyBackward(o, ce.saved);
  }

  // Backward, top layer first.
  const grads = new Map<string, string>();
  const record = (l: number, target: LoraTarget, d: { dA?: string; dB?: string }) => {
    if (d.dA && d.dB) {
      grads.set(loraGradName(l, target, 'A'), d.dA);
      grads.set(loraGradName(l, target, 'B'), d.dB);
    }
  };
  const back = (l: number, target: LoraTarget, s: LinearSaved | BatchedLinearSaved, dy: string, needDx: boolean) => {
    const d = 'xg' in s ? batchedLinearBackward(o, s, dy, needDx) : linearBackward(o, s, dy, needDx);
    record(l, target, d);
    return d.dx;
  };
  const hasLora = (l: number, ts: LoraTarget[]) => layers.has(l) && ts.some((t) => options.targets.includes(t));
  let dx = rmsNormBackward(o, final.saved, lossBackward());
  for (let l = config.numLayers - 1; l >= lowestLoraLayer; l--) {
    // Checkpointed: the layer's forward again, on its input reshaped to the incoming gradient's shape (the same
    // [N, hidden]). The reshape changes nothing but makes the recomputation wait for that gradient, so the ORT plan
    // runs it when this layer's backward starts (and it is not merged with the first forward as a common subexpression).
    const kept = saved[l];
    const s = typeof kept === 'string' ? layerForward(l, o.reshape(kept, o.unary('Shape', dx))).saved : kept;
    const needInput = l > lowestLoraLayer;
    const needAttn = needInput || hasLora(l, ATTN);
    const needMlpInput = needAttn || hasLora(l, ['gate_proj', 'up_proj']);
    const dm = back(l, 'down_proj', s.down.saved, dx, needMlpInput);
    if (!dm) break;
    const act = swiGluBackward(o, s.act.saved, dm);
    const dGateX = back(l, 'gate_proj', s.gate.saved, act.dGate, needAttn);
    const dUpX = back(l, 'up_proj', s.up.saved, act.dUp, needAttn);
    if (!dGateX || !dUpX) break;
    const dx2 = o.add(dx, rmsNormBackward(o, s.n2.saved, o.add(dGateX, dUpX)));
    const dAtt = back(l, 'o_proj', s.out.saved, dx2, needInput || hasLora(l, ['q_proj', 'k_proj', 'v_proj']));
    if (!dAtt) break;
    const da = attentionBackward(o, ctx, s.att.saved, dAtt);
    const dq = back(l, 'q_proj', s.q.saved, da.dq, needInput);
    const dk = back(l, 'k_proj', s.k.saved, da.dk, needInput);
    const dv = back(l, 'v_proj', s.v.saved, da.dv, needInput);
    if (!dq || !dk || !dv) break;
    dx = o.add(dx2, rmsNormBackward(o, s.n1.saved, o.add(o.add(dq, dk), dv)));
  }
  for (const m of modules) {
    g.outputAs(grads.get(m.gradA) as string, m.gradA, dtype, perAdapter(['rank', m.inFeatures]));
    g.outputAs(grads.get(m.gradB) as string, m.gradB, dtype, perAdapter([m.outFeatures, 'rank']));
  }
  return { bytes: g.toBytes(), dtype, weightNames, modules, batchedAdapters: batched, distill, checkpoint };
}
