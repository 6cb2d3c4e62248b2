import type { LoraWeights } from '@rg/lora';
import type { ModelConfig, ModelWeights } from '../model/config.js';

/**
 * A plain float64 Llama-family forward, written straight from the Hugging Face modeling code with
 * nested loops and no shared code with the ONNX path. It is the test oracle for tiny random models:
 * slow by design, obvious by design.
 */
export function referenceForward(
  config: ModelConfig,
  weights: ModelWeights,
  ids: number[],
  lora?: LoraWeights | LoraWeights[],
): Float64Array[] {
  // Several adapters: each adds its own delta (the definition the rank concatenation must meet).
  const loras = lora === undefined ? [] : Array.isArray(lora) ? lora : [lora];
  const w = (name: string) => {
    const t = weights.get(name);
    if (!t) throw new Error(`reference: missing weight ${name}`);
    return t;
  };
  const { hiddenSize: hidden, numHeads, numKvHeads, headDim } = config;

  const matVec = (name: string, x: Float64Array, layer: number, target: string, bias?: string): Float64Array => {
    const t = w(name);
    const [out, inp] = t.dims;
    const y = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let s = bias ? w(bias).data[o] : 0;
      for (let i = 0; i < inp; i++) s += t.data[o * inp + i] * x[i];
      y[o] = s;
    }
    for (const set of loras) {
      const m = set.modules.get(`${layer}.${target}`);
      if (!m || m.rank === 0) continue;
      const ax = new Float64Array(m.rank);
      for (let r = 0; r < m.rank; r++) for (let i = 0; i < inp; i++) ax[r] += m.a[r * inp + i] * x[i];
      for (let o = 0; o < out; o++) for (let r = 0; r < m.rank; r++) y[o] += m.b[o * m.rank + r] * ax[r];
    }
    return y;
  };
  const norm = (x: Float64Array, name: string): Float64Array => {
    let ms = 0;
    for (const v of x) ms += v * v;
    const inv = 1 / Math.sqrt(ms / x.length + config.rmsNormEps);
    const g = w(name).data;
    return x.map((v, i) => v * inv * g[i]);
  };
  const invFreq = referenceInvFreq(config);
  const rope = (x: Float64Array, heads: number, pos: number) => {
    const half = headDim / 2;
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < half; i++) {
        const angle = pos * invFreq[i];
        const a = x[h * headDim + i];
        const b = x[h * headDim + half + i];
        x[h * headDim + i] = a * Math.cos(angle) - b * Math.sin(angle);
        x[h * headDim + half + i] = b * Math.cos(angle) + a * Math.sin(angle);
      }
    }
  };

  const emb = w('model.embed_tokens.weight').data;
  let xs = ids.map((id) => Float64Array.from(emb.subarray(id * hidden, (id + 1) * hidden)));
  for (let layer = 0; layer < config.numLayers; layer++) {
    const p = `model.layers.${layer}`;
    const bias = (t: string) => (config.attentionBias ? `${p}.self_attn.${t}.bias` : undefined);
    const hs = xs.map((x) => norm(x, `${p}.input_layernorm.weight`));
    const qs = hs.map((h) => matVec(`${p}.self_attn.q_proj.weight`, h, layer, 'q_proj', bias('q_proj')));
    const ks = hs.map((h) => matVec(`${p}.self_attn.k_proj.weight`, h, layer, 'k_proj', bias('k_proj')));
    const vs = hs.map((h) => matVec(`${p}.self_attn.v_proj.weight`, h, layer, 'v_proj', bias('v_proj')));
    for (let pos = 0; pos < ids.length; pos++) {
      rope(qs[pos], numHeads, pos);
      rope(ks[pos], numKvHeads, pos);
    }
    const group = numHeads / numKvHeads;
    const attnOut = qs.map((q, i) => {
      const out = new Float64Array(numHeads * headDim);
      for (let h = 0; h < numHeads; h++) {
        const kvh = Math.floor(h / group);
        const scores: number[] = [];
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let d = 0; d < headDim; d++) s += q[h * headDim + d] * ks[j][kvh * headDim + d];
          scores.push(s / Math.sqrt(headDim));
        }
        const max = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - max));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= i; j++) for (let d = 0; d < headDim; d++) out[h * headDim + d] += (e[j] / z) * vs[j][kvh * headDim + d];
      }
      return out;
    });
    xs = xs.map((x, i) => {
      const o = matVec(`${p}.self_attn.o_proj.weight`, attnOut[i], layer, 'o_proj');
      return x.map((v, k) => v + o[k]);
    });
    xs = xs.map((x) => {
      const m = norm(x, `${p}.post_attention_layernorm.weight`);
      const gate = matVec(`${p}.mlp.gate_proj.weight`, m, layer, 'gate_proj');
      const up = matVec(`${p}.mlp.up_proj.weight`, m, layer, 'up_proj');
      const act = gate.map((gv, k) => (gv / (1 + Math.exp(-gv))) * up[k]);
      const down = matVec(`${p}.mlp.down_proj.weight`, act, layer, 'down_proj');
      return x.map((v, k) => v + down[k]);
    });
  }
  const head = config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  return xs.map((x) => matVec(head, norm(x, 'model.norm.weight'), -1, 'lm_head'));
}

/** Hugging Face's `_compute_llama3_parameters`, in float64. */
function referenceInvFreq(config: ModelConfig): Float64Array {
  const d = config.headDim;
  const inv = new Float64Array(d / 2);
  for (let i = 0; i < d / 2; i++) inv[i] = 1 / config.ropeTheta ** ((2 * i) / d);
  const s = config.ropeScaling;
  if (!s) return inv;
  const lowWave = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWave = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  return inv.map((f) => {
    const wave = (2 * Math.PI) / f;
    const scaled = wave > lowWave ? f / s.factor : f;
    const isMedium = !(wave < highWave) && !(wave > lowWave);
    if (!isMedium) return scaled;
    const smooth = (s.originalMaxPositionEmbeddings / wave - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * (scaled / s.factor) + smooth * scaled;
  });
}
