import { GraphBuilder } from '../graph/builder.js';

/** The parts of a Hugging Face BERT config.json the encoder graph needs. */
export interface BertConfig {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  layerNormEps: number;
  maxPositions: number;
}

export function bertConfigFromJson(json: Record<string, unknown>, source: string): BertConfig {
  const num = (key: string): number => {
    const v = json[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${source}: "${key}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  if (json.model_type !== 'bert')
    throw new Error(`${source}: model_type is ${JSON.stringify(json.model_type)}, the sentence encoder runs "bert"`);
  if (json.hidden_act !== 'gelu') throw new Error(`${source}: hidden_act is ${JSON.stringify(json.hidden_act)}, expected "gelu"`);
  return {
    hiddenSize: num('hidden_size'),
    numLayers: num('num_hidden_layers'),
    numHeads: num('num_attention_heads'),
    intermediateSize: num('intermediate_size'),
    layerNormEps: num('layer_norm_eps'),
    maxPositions: num('max_position_embeddings'),
  };
}

export type BertWeights = Map<string, { dims: number[]; data: Float32Array }>;

export const BERT_IO = { inputIds: 'input_ids', attentionMask: 'attention_mask', embedding: 'sentence_embedding' } as const;

/**
 * A BERT encoder followed by sentence-transformers' pooling: the mean of the last hidden states over
 * the tokens the attention mask keeps, then L2 normalisation (all-MiniLM-L6-v2's modules.json:
 * Transformer -> Pooling(mean) -> Normalize). Inputs `input_ids` and `attention_mask` are int64
 * `[batch, seq]`; token types are all 0 (single sentences). Weights use Hugging Face names without
 * the "bert." prefix, as sentence-transformers saves them.
 */
export function buildBertEncoderGraph(config: BertConfig, weights: BertWeights): Uint8Array {
  const g = new GraphBuilder('bert_sentence_encoder');
  const h = config.hiddenSize;
  const headDim = h / config.numHeads;
  const get = (name: string): { dims: number[]; data: Float32Array } => {
    const t = weights.get(name);
    if (!t) throw new Error(`BERT weights: missing tensor "${name}"`);
    return t;
  };
  const init = (name: string, t: { dims: number[]; data: Float32Array } = get(name)): string =>
    g.initializer(name, { dtype: 'float32', dims: t.dims, data: t.data });
  // Linear weights are [out, in] in Hugging Face; stored transposed so each projection is one MatMul.
  const linear = (x: string, prefix: string): string => {
    const w = get(`${prefix}.weight`);
    const [out, inF] = w.dims;
    const wt = g.initializer(`${prefix}.weight_t`, { dtype: 'float32', dims: [inF, out], data: transpose(w.data, out, inF) });
    return g.op('Add', [g.op('MatMul', [x, wt]), init(`${prefix}.bias`)]);
  };
  const layerNorm = (x: string, prefix: string): string =>
    g.op('LayerNormalization', [x, init(`${prefix}.weight`), init(`${prefix}.bias`)], { axis: -1, epsilon: config.layerNormEps });

  const ids = g.input(BERT_IO.inputIds, 'int64', ['batch', 'seq']);
  const mask = g.input(BERT_IO.attentionMask, 'int64', ['batch', 'seq']);

  const seqLen = g.op('Gather', [g.op('Shape', [ids]), g.int(1)], { axis: 0 });
  const positions = g.op('Range', [g.int(0), seqLen, g.int(1)]);
  const typeEmb = get('embeddings.token_type_embeddings.weight');
  const tokenType0 = g.initializer('token_type_0', { dtype: 'float32', dims: [h], data: typeEmb.data.slice(0, h) });
  let x = g.op('Add', [
    g.op('Add', [
      g.op('Gather', [init('embeddings.word_embeddings.weight'), ids]),
      g.op('Gather', [init('embeddings.position_embeddings.weight'), positions]),
    ]),
    tokenType0,
  ]);
  x = layerNorm(x, 'embeddings.LayerNorm');

  const maskF = g.op('Cast', [mask], { to: 1 });
  // Padded keys get a large negative score so softmax gives them ~0 weight.
  const keyBias = g.op('Mul', [g.op('Sub', [g.scalar(1), g.op('Unsqueeze', [maskF, g.ints([1, 2])])]), g.scalar(-1e9)]);
  const splitHeads = (v: string, perm: number[]): string =>
    g.op('Transpose', [g.op('Reshape', [v, g.ints([0, 0, config.numHeads, headDim])])], { perm });

  for (let l = 0; l < config.numLayers; l++) {
    const p = `encoder.layer.${l}`;
    const q = splitHeads(linear(x, `${p}.attention.self.query`), [0, 2, 1, 3]);
    const kT = splitHeads(linear(x, `${p}.attention.self.key`), [0, 2, 3, 1]);
    const v = splitHeads(linear(x, `${p}.attention.self.value`), [0, 2, 1, 3]);
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, kT]), g.scalar(1 / Math.sqrt(headDim))]), keyBias]);
    const context = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v]);
    const merged = g.op('Reshape', [g.op('Transpose', [context], { perm: [0, 2, 1, 3] }), g.ints([0, 0, h])]);
    x = layerNorm(g.op('Add', [linear(merged, `${p}.attention.output.dense`), x]), `${p}.attention.output.LayerNorm`);
    const inner = linear(x, `${p}.intermediate.dense`);
    // Exact GELU (BERT's "gelu"), 0.5·x·(1 + erf(x/√2)).
    const gelu = g.op('Mul', [
      g.op('Mul', [inner, g.scalar(0.5)]),
      g.op('Add', [g.scalar(1), g.op('Erf', [g.op('Mul', [inner, g.scalar(Math.SQRT1_2)])])]),
    ]);
    x = layerNorm(g.op('Add', [linear(gelu, `${p}.output.dense`), x]), `${p}.output.LayerNorm`);
  }

  const maskE = g.op('Unsqueeze', [maskF, g.ints([2])]);
  const summed = g.op('ReduceSum', [g.op('Mul', [x, maskE]), g.ints([1])], { keepdims: 0 });
  const counts = g.op('Max', [g.op('ReduceSum', [maskE, g.ints([1])], { keepdims: 0 }), g.scalar(1e-9)]);
  const mean = g.op('Div', [summed, counts]);
  const norm = g.op('Max', [g.op('Sqrt', [g.op('ReduceSum', [g.op('Mul', [mean, mean]), g.ints([1])], { keepdims: 1 })]), g.scalar(1e-12)]);
  g.outputAs(g.op('Div', [mean, norm]), BERT_IO.embedding, 'float32', ['batch', h]);
  return g.toBytes();
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}
