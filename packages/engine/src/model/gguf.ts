import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { GGMLQuantizationType, gguf } from '@huggingface/gguf';
import type { ModelConfig, ModelWeights, RopeScaling } from './config.js';
import { ModelFileError } from './errors.js';
import { dequantize, GGML_TYPES, type GgmlTypeName, ggmlBytes, ggmlTypeName } from './quants.js';

/** One tensor of a GGUF file, as its table describes it. */
export interface GgufTensorEntry {
  /** llama.cpp name, e.g. 'blk.0.attn_q.weight'. */
  name: string;
  type: GgmlTypeName;
  /** GGUF order: dims[0] is the fastest-varying (for a linear weight: [in, out]). */
  dims: number[];
  elements: number;
  /** Absolute byte offset in the file. */
  fileOffset: number;
  bytes: number;
}

export interface GgufFile {
  path: string;
  version: number;
  metadata: Record<string, unknown>;
  tensors: Map<string, GgufTensorEntry>;
}

// Keys the parser adds to the metadata object that are header fields, not key-value pairs.
const HEADER_KEYS = ['version', 'tensor_count', 'kv_count'];

/**
 * Parse and validate a GGUF file's header, metadata and tensor table (no tensor data is read).
 * The parser fills a truncated header with empty entries rather than failing, so every entry is
 * checked here: a truncated or corrupt file fails now, naming the file.
 */
export async function readGguf(path: string): Promise<GgufFile> {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new ModelFileError(path, 'no such file');
  }
  let parsed: Awaited<ReturnType<typeof gguf>>;
  try {
    parsed = await gguf(path, { allowLocalFile: true });
  } catch (e) {
    throw new ModelFileError(path, `not a readable GGUF file (${(e as Error).message})`);
  }
  const metadata = parsed.metadata as unknown as Record<string, unknown>;
  const version = Number(metadata.version);
  if (version !== 2 && version !== 3) throw new ModelFileError(path, `GGUF version ${version} (rg reads versions 2 and 3)`);
  const dataStart = Number(parsed.tensorDataOffset);
  if (dataStart > size) throw new ModelFileError(path, `truncated: the header ends at byte ${dataStart} of a ${size}-byte file`);
  const kvCount = Number(metadata.kv_count);
  const kvRead = Object.keys(metadata).filter((k) => !HEADER_KEYS.includes(k)).length;
  if (kvRead !== kvCount) throw new ModelFileError(path, `corrupt metadata: ${kvRead} of ${kvCount} key-value pairs readable`);

  const tensors = new Map<string, GgufTensorEntry>();
  for (const [i, info] of parsed.tensorInfos.entries()) {
    if (!info.name || info.n_dims === 0) throw new ModelFileError(path, `corrupt tensor table: entry ${i} has no name or no dims`);
    const type = ggmlTypeName(info.dtype);
    if (!type) {
      const known = GGMLQuantizationType[info.dtype] ?? `id ${info.dtype}`;
      throw new ModelFileError(
        path,
        `tensor "${info.name}" has quantization type ${known}, which rg cannot read (supported: ${Object.keys(GGML_TYPES).join(', ')})`,
      );
    }
    const dims = info.shape.map(Number);
    const elements = dims.reduce((a, b) => a * b, 1);
    if (dims[0] % GGML_TYPES[type].blockSize !== 0)
      throw new ModelFileError(path, `tensor "${info.name}" rows of ${dims[0]} are not whole ${type} blocks`);
    const bytes = ggmlBytes(type, elements);
    const fileOffset = dataStart + Number(info.offset);
    if (fileOffset + bytes > size) {
      throw new ModelFileError(path, `truncated: tensor "${info.name}" ends at byte ${fileOffset + bytes} of a ${size}-byte file`);
    }
    if (tensors.has(info.name)) throw new ModelFileError(path, `tensor "${info.name}" appears twice`);
    tensors.set(info.name, { name: info.name, type, dims, elements, fileOffset, bytes });
  }
  return { path, version, metadata, tensors };
}

function meta(file: GgufFile, key: string): unknown {
  return file.metadata[key];
}

function requiredNumber(file: GgufFile, key: string): number {
  const v = meta(file, key);
  if (typeof v !== 'number' && typeof v !== 'bigint') throw new ModelFileError(file.path, `metadata "${key}" missing or not a number`);
  return Number(v);
}

function optionalNumber(file: GgufFile, key: string): number | undefined {
  const v = meta(file, key);
  return typeof v === 'number' || typeof v === 'bigint' ? Number(v) : undefined;
}

/** The architectures rg reads from GGUF. Mistral models are written with architecture `llama`. */
const GGUF_ARCHITECTURES = ['llama', 'qwen2'];

/**
 * Llama 3 rope scaling from the per-frequency divisors llama.cpp's converter stores as
 * `rope_freqs.weight` (the GGUF has no metadata for it). Every released Llama 3.x uses low/high
 * frequency factors 1 and 4 over an original context of 8192, so those are assumed, the factor is
 * the largest divisor, and the divisors this implies must match the stored ones.
 */
function ropeScalingFromFreqs(file: GgufFile, entry: GgufTensorEntry, headDim: number, theta: number): RopeScaling {
  const fd = openSync(file.path, 'r');
  let stored: Float32Array;
  try {
    stored = dequantize(entry.type, readBytes(fd, entry), entry.elements);
  } finally {
    closeSync(fd);
  }
  if (stored.length !== headDim / 2)
    throw new ModelFileError(file.path, `rope_freqs.weight has ${stored.length} values, expected ${headDim / 2}`);
  const scaling: RopeScaling = {
    ropeType: 'llama3',
    factor: Math.max(...stored),
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMaxPositionEmbeddings: 8192,
  };
  const lowFreqWavelen = scaling.originalMaxPositionEmbeddings / scaling.lowFreqFactor;
  const highFreqWavelen = scaling.originalMaxPositionEmbeddings / scaling.highFreqFactor;
  for (let i = 0; i < stored.length; i++) {
    const wavelen = 2 * Math.PI * theta ** ((2 * i) / headDim);
    let divisor = scaling.factor;
    if (wavelen < highFreqWavelen) divisor = 1;
    else if (wavelen <= lowFreqWavelen) {
      const smooth =
        (scaling.originalMaxPositionEmbeddings / wavelen - scaling.lowFreqFactor) / (scaling.highFreqFactor - scaling.lowFreqFactor);
      divisor = 1 / ((1 - smooth) / scaling.factor + smooth);
    }
    if (Math.abs(divisor - stored[i]) > 1e-3 * divisor) {
      throw new ModelFileError(file.path, `rope_freqs.weight[${i}] = ${stored[i]} is not Llama 3 rope scaling (expected ${divisor})`);
    }
  }
  return scaling;
}

/** Resolve a GGUF file's metadata into the shared ModelConfig. */
export function ggufConfig(file: GgufFile): ModelConfig {
  const arch = meta(file, 'general.architecture');
  if (typeof arch !== 'string' || !GGUF_ARCHITECTURES.includes(arch)) {
    throw new ModelFileError(
      file.path,
      `unknown architecture ${JSON.stringify(arch)} (rg reads GGUF architecture: ${GGUF_ARCHITECTURES.join(', ')})`,
    );
  }
  const scalingType = meta(file, `${arch}.rope.scaling.type`);
  if (scalingType !== undefined && scalingType !== 'none') {
    throw new ModelFileError(file.path, `rope scaling type ${JSON.stringify(scalingType)} is not supported (rg supports Llama 3's)`);
  }
  const hiddenSize = requiredNumber(file, `${arch}.embedding_length`);
  const numHeads = requiredNumber(file, `${arch}.attention.head_count`);
  const headDim = optionalNumber(file, `${arch}.attention.key_length`) ?? hiddenSize / numHeads;
  const ropeTheta = optionalNumber(file, `${arch}.rope.freq_base`) ?? 10000;
  const ropeFreqs = file.tensors.get('rope_freqs.weight');
  const tokens = meta(file, 'tokenizer.ggml.tokens');
  const embedding = file.tensors.get('token_embd.weight');
  if (!embedding) throw new ModelFileError(file.path, 'no tensor "token_embd.weight"');
  const eos = optionalNumber(file, 'tokenizer.ggml.eos_token_id');
  const eot = optionalNumber(file, 'tokenizer.ggml.eot_token_id');
  return {
    architecture: arch,
    vocabSize: optionalNumber(file, `${arch}.vocab_size`) ?? (Array.isArray(tokens) ? tokens.length : embedding.dims[1]),
    hiddenSize,
    intermediateSize: requiredNumber(file, `${arch}.feed_forward_length`),
    numLayers: requiredNumber(file, `${arch}.block_count`),
    numHeads,
    numKvHeads: optionalNumber(file, `${arch}.attention.head_count_kv`) ?? numHeads,
    headDim,
    rmsNormEps: requiredNumber(file, `${arch}.attention.layer_norm_rms_epsilon`),
    ropeTheta,
    ropeScaling: ropeFreqs ? ropeScalingFromFreqs(file, ropeFreqs, headDim, ropeTheta) : null,
    maxPositionEmbeddings: requiredNumber(file, `${arch}.context_length`),
    tieWordEmbeddings: !file.tensors.has('output.weight'),
    attentionBias: arch === 'qwen2' || file.tensors.has('blk.0.attn_q.bias'),
    bosTokenId: optionalNumber(file, 'tokenizer.ggml.bos_token_id') ?? null,
    eosTokenIds: [...new Set([eos, eot].filter((id): id is number => id !== undefined))],
  };
}

const LAYER_NAMES: Record<string, string> = {
  attn_norm: 'input_layernorm',
  ffn_norm: 'post_attention_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};
const GLOBAL_NAMES: Record<string, string> = {
  'token_embd.weight': 'model.embed_tokens.weight',
  'output_norm.weight': 'model.norm.weight',
  'output.weight': 'lm_head.weight',
};

/** The Hugging Face name of a llama.cpp tensor name, or undefined for a name rg does not know. */
export function huggingFaceName(ggufName: string): string | undefined {
  if (ggufName in GLOBAL_NAMES) return GLOBAL_NAMES[ggufName];
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(ggufName);
  if (!m || !(m[2] in LAYER_NAMES)) return undefined;
  return `model.layers.${m[1]}.${LAYER_NAMES[m[2]]}.${m[3]}`;
}

/**
 * Heads whose rows llama.cpp's converter permuted, for a Hugging Face name: q_proj rows come in
 * numHeads groups, k_proj rows in numKvHeads groups. 0 when the tensor is stored as is (only the
 * `llama` converter permutes; qwen2's keeps Hugging Face order).
 */
function permutedHeads(hfName: string, config: ModelConfig): number {
  if (config.architecture !== 'llama') return 0;
  if (/self_attn\.q_proj\.(weight|bias)$/.test(hfName)) return config.numHeads;
  if (/self_attn\.k_proj\.(weight|bias)$/.test(hfName)) return config.numKvHeads;
  return 0;
}

/**
 * Row order of Hugging Face from llama.cpp's: within each head of `headRows` rows, the converter
 * interleaved the two rotary halves (row 2j+s came from row s*headRows/2 + j). Each row is moved
 * whole, `rowBytes` (or values) at a time, so this works on fp32 rows and on quantized block rows.
 */
function unpermuteRows<T extends Uint8Array | Float32Array>(src: T, rows: number, rowSize: number, heads: number): T {
  const out = new (src.constructor as { new (n: number): T })(src.length);
  const headRows = rows / heads;
  const half = headRows / 2;
  for (let h = 0; h < heads; h++) {
    for (let s = 0; s < 2; s++) {
      for (let j = 0; j < half; j++) {
        const from = h * headRows + 2 * j + s;
        const to = h * headRows + s * half + j;
        out.set(src.subarray(from * rowSize, (from + 1) * rowSize), to * rowSize);
      }
    }
  }
  return out;
}

function readBytes(fd: number, entry: GgufTensorEntry): Uint8Array {
  const buf = new Uint8Array(entry.bytes);
  let done = 0;
  while (done < buf.byteLength) {
    const n = readSync(fd, buf, done, buf.byteLength - done, entry.fileOffset + done);
    if (n === 0) throw new Error(`unexpected end of file reading "${entry.name}"`);
    done += n;
  }
  return buf;
}

/**
 * Every tensor of a GGUF file dequantized to fp32, by Hugging Face name, Q/K rows in Hugging Face order. Each tensor is
 * read from the file when first used and kept (`data`); `read()` gives a fresh copy without keeping one, so that
 * quantizing the projections again (q8/q4 sessions) never holds them all in fp32 at once. readGguf has checked that
 * every tensor lies inside the file and has a type rg reads.
 */
export function readGgufWeights(file: GgufFile, config: ModelConfig): ModelWeights {
  const weights: ModelWeights = new Map();
  for (const entry of file.tensors.values()) {
    // Rope divisors are part of the config (ropeScaling), not a weight.
    if (entry.name === 'rope_freqs.weight') continue;
    const hfName = huggingFaceName(entry.name);
    if (!hfName) throw new ModelFileError(file.path, `tensor "${entry.name}" is not part of a ${config.architecture} model rg knows`);
    const dims = [...entry.dims].reverse();
    const heads = permutedHeads(hfName, config);
    const load = () => {
      const fd = openSync(file.path, 'r');
      try {
        const data = dequantize(entry.type, readBytes(fd, entry), entry.elements);
        return heads ? unpermuteRows(data, dims[0], entry.elements / dims[0], heads) : data;
      } finally {
        closeSync(fd);
      }
    };
    let kept: Float32Array | undefined;
    weights.set(hfName, {
      dims,
      get data() {
        kept ??= load();
        return kept;
      },
      read: () => kept ?? load(),
    });
  }
  return weights;
}

/**
 * A weight as the GGUF stores it, before dequantization, with rows in Hugging Face order.
 *
 * Layout: `dims` is [out, in] (PyTorch order); `data` holds `out` rows one after another, each row
 * `in / blockSize` blocks of `typeSize` bytes (layouts in quants.ts). For Q4_1 a block is 20 bytes:
 * f16 scale d, f16 minimum m, then 16 bytes where byte j holds element j (low nibble) and element
 * j+16 (high nibble) of the block: value = d * q + m.
 */
export interface QuantizedWeight {
  type: GgmlTypeName;
  dims: [number, number];
  blockSize: number;
  typeSize: number;
  data: Uint8Array;
}

/** The 2-D weights of a GGUF file in their stored (quantized) form, by Hugging Face name. */
export function readGgufQuantized(file: GgufFile, config: ModelConfig, names?: Iterable<string>): Map<string, QuantizedWeight> {
  const wanted = names ? new Set(names) : undefined;
  const out = new Map<string, QuantizedWeight>();
  const fd = openSync(file.path, 'r');
  try {
    for (const entry of file.tensors.values()) {
      const hfName = huggingFaceName(entry.name);
      if (!hfName || entry.dims.length !== 2 || (wanted && !wanted.has(hfName))) continue;
      const [inFeatures, outFeatures] = entry.dims;
      let data = readBytes(fd, entry);
      const heads = permutedHeads(hfName, config);
      if (heads) data = unpermuteRows(data, outFeatures, entry.bytes / outFeatures, heads);
      const { blockSize, typeSize } = GGML_TYPES[entry.type];
      out.set(hfName, { type: entry.type, dims: [outFeatures, inFeatures], blockSize, typeSize, data });
    }
  } finally {
    closeSync(fd);
  }
  if (wanted) for (const name of wanted) if (!out.has(name)) throw new ModelFileError(file.path, `no 2-D tensor for "${name}"`);
  return out;
}
