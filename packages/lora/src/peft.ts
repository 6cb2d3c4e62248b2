import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AdapterDtype, dequantizeInt8, f32ToF16, quantizeInt8 } from './dtype.js';
import { writeFolderDurable } from './fsutil.js';
import { moduleKey } from './lora.js';
import { encodeSafetensors, parseSafetensorsHeader, type TensorToWrite, toFloat32 } from './safetensors.js';

/**
 * One LoRA adapter as stored: per (layer, target module) the raw A [rank, in] and B [out, rank]
 * exactly as PEFT saves them (no scale applied), plus the config that gives the scale.
 */
export interface LoraAdapterConfig {
  rank: number;
  alpha: number;
  targetModules: string[];
  /** PEFT's base_model_name_or_path: informative only; the manifest's model fingerprint is what is checked. */
  baseModel: string | null;
  /** rsLoRA scales by alpha / sqrt(rank) instead of alpha / rank. */
  useRslora: boolean;
  dropout: number;
}

export interface LoraPair {
  inFeatures: number;
  outFeatures: number;
  /** [rank, inFeatures], row-major. */
  a: Float32Array;
  /** [outFeatures, rank], row-major, unscaled. */
  b: Float32Array;
}

export interface LoraAdapter {
  config: LoraAdapterConfig;
  /** Keyed by moduleKey(layer, target), e.g. "3.down_proj". */
  modules: Map<string, LoraPair>;
}

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_MODEL_FILE = 'adapter_model.safetensors';

export class AdapterFormatError extends Error {
  override name = 'AdapterFormatError';
}

/** The factor PEFT multiplies B·A by. */
export function loraScale(config: LoraAdapterConfig): number {
  return config.useRslora ? config.alpha / Math.sqrt(config.rank) : config.alpha / config.rank;
}

const BLOCK: Record<string, 'self_attn' | 'mlp'> = {
  q_proj: 'self_attn',
  k_proj: 'self_attn',
  v_proj: 'self_attn',
  o_proj: 'self_attn',
  gate_proj: 'mlp',
  up_proj: 'mlp',
  down_proj: 'mlp',
};

/** PEFT's saved name of a LoRA tensor of a Llama-family causal LM. */
export function peftTensorName(layer: number, target: string, which: 'A' | 'B'): string {
  const block = BLOCK[target];
  if (!block) throw new AdapterFormatError(`unknown LoRA target module "${target}" (expected one of ${Object.keys(BLOCK).join(', ')})`);
  return `base_model.model.model.layers.${layer}.${block}.${target}.lora_${which}.weight`;
}

const TENSOR_RE = /^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.lora_(A|B)\.weight(_scale)?$/;

export function parseModuleKey(key: string): { layer: number; target: string } {
  const dot = key.indexOf('.');
  return { layer: Number(key.slice(0, dot)), target: key.slice(dot + 1) };
}

/** PEFT's adapter_config.json for a LoRA adapter on a causal LM (field names as PEFT writes them). */
export function peftConfigJson(config: LoraAdapterConfig): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: config.baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: config.alpha,
    lora_dropout: config.dropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: config.rank,
    rank_pattern: {},
    revision: null,
    target_modules: [...config.targetModules].sort(),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: config.useRslora,
  };
}

/** Parse and check an adapter_config.json; `source` names the file in errors. */
export function parseAdapterConfig(text: string, source: string): LoraAdapterConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new AdapterFormatError(`${source}: not valid JSON (${(e as Error).message})`);
  }
  const fail = (field: string, expected: string): never => {
    throw new AdapterFormatError(`${source}: field "${field}" is ${JSON.stringify(raw[field])}, expected ${expected}`);
  };
  if (raw.peft_type !== 'LORA') fail('peft_type', '"LORA"');
  if (!Number.isInteger(raw.r) || (raw.r as number) < 1) fail('r', 'a positive integer');
  if (typeof raw.lora_alpha !== 'number' || !Number.isFinite(raw.lora_alpha)) fail('lora_alpha', 'a number');
  if (raw.use_dora === true) fail('use_dora', 'false (DoRA adapters are not supported)');
  if (raw.fan_in_fan_out === true) fail('fan_in_fan_out', 'false (Llama-family linear layers)');
  if (raw.bias !== undefined && raw.bias !== 'none') fail('bias', '"none" (bias-training adapters are not supported)');
  for (const f of ['rank_pattern', 'alpha_pattern']) {
    if (raw[f] && typeof raw[f] === 'object' && Object.keys(raw[f] as object).length > 0)
      fail(f, '{} (per-module ranks are not supported)');
  }
  if (Array.isArray(raw.modules_to_save) && raw.modules_to_save.length > 0)
    fail('modules_to_save', 'null (only LoRA weights are supported)');
  const targets = raw.target_modules;
  if (!Array.isArray(targets) && typeof targets !== 'string') fail('target_modules', 'a list of module names');
  return {
    rank: raw.r as number,
    alpha: raw.lora_alpha as number,
    targetModules: Array.isArray(targets) ? (targets as string[]).slice().sort() : [],
    baseModel: typeof raw.base_model_name_or_path === 'string' ? raw.base_model_name_or_path : null,
    useRslora: raw.use_rslora === true,
    dropout: typeof raw.lora_dropout === 'number' ? raw.lora_dropout : 0,
  };
}

/**
 * Decode an adapter from the bytes of its two files. Checks every tensor name, dtype and shape
 * against the config, so a truncated or foreign file fails here naming the tensor.
 */
export function decodePeftAdapter(configText: string, model: Uint8Array, source: string, into?: LoraAdapter): LoraAdapter {
  const config = parseAdapterConfig(configText, `${source}/${ADAPTER_CONFIG_FILE}`);
  // `into`: an adapter nobody uses any more, whose arrays take the widened (fp16, int8) tensors that fit them, so a
  // cold load allocates no new arrays; when every tensor fits, its module map is reused as well.
  const spare = into?.config.rank === config.rank ? into : undefined;
  let filled = 0;
  const spareArray = (key: string, which: string, length: number): Float32Array | undefined => {
    const p = spare?.modules.get(key);
    const out = which === 'A' ? p?.a : p?.b;
    if (out?.length !== length) return undefined;
    filled++;
    return out;
  };
  const file = `${source}/${ADAPTER_MODEL_FILE}`;
  const header = parseSafetensorsHeader(model, model.byteLength, file);
  const parts = new Map<string, { a?: Float32Array; b?: Float32Array; inFeatures?: number; outFeatures?: number }>();
  const targets = new Set<string>();
  for (const [name, entry] of header.tensors) {
    const m = TENSOR_RE.exec(name);
    if (!m)
      throw new AdapterFormatError(
        `${file}: unexpected tensor "${name}" (expected base_model.model.model.layers.{i}.{self_attn|mlp}.{target}.lora_{A|B}.weight)`,
      );
    const [, layerText, block, target, which, isScale] = m;
    if (isScale) continue; // read with its tensor
    if (BLOCK[target] !== block) throw new AdapterFormatError(`${file}: tensor "${name}": ${target} does not belong to ${block}`);
    if (entry.shape.length !== 2)
      throw new AdapterFormatError(`${file}: tensor "${name}" has shape [${entry.shape}], expected 2 dimensions`);
    const [rows, cols] = entry.shape;
    const rankDim = which === 'A' ? rows : cols;
    if (rankDim !== config.rank) {
      throw new AdapterFormatError(
        `${file}: tensor "${name}" has rank ${rankDim} (shape [${entry.shape}]), adapter_config.json says r=${config.rank}`,
      );
    }
    const bytes = model.subarray(header.dataStart + entry.begin, header.dataStart + entry.end);
    const key = moduleKey(Number(layerText), target);
    let data: Float32Array;
    if (entry.dtype === 'I8') {
      // One scale per rank component: rows of A, columns of B.
      const perColumn = which === 'B';
      const groups = perColumn ? cols : rows;
      const scaleEntry = header.tensors.get(`${name}_scale`);
      if (scaleEntry?.dtype !== 'F32' || scaleEntry.shape.length !== 1 || scaleEntry.shape[0] !== groups) {
        throw new AdapterFormatError(`${file}: int8 tensor "${name}" needs an F32 "${name}_scale" of shape [${groups}]`);
      }
      const scales = toFloat32(model.subarray(header.dataStart + scaleEntry.begin, header.dataStart + scaleEntry.end), 'F32', file);
      const q = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      data = dequantizeInt8(q, scales, rows, cols, perColumn, spareArray(key, which, rows * cols));
    } else if (entry.dtype === 'F32' && bytes.byteOffset % 4 === 0) {
      // A view, not a copy: fetching k adapters for a request should not copy every byte twice.
      data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    } else {
      data = toFloat32(bytes, entry.dtype, `${file}: ${name}`, spareArray(key, which, rows * cols));
    }
    const part = parts.get(key) ?? {};
    if (which === 'A') {
      part.a = data;
      part.inFeatures = cols;
    } else {
      part.b = data;
      part.outFeatures = rows;
    }
    parts.set(key, part);
    targets.add(target);
  }
  if (parts.size === 0) throw new AdapterFormatError(`${file}: holds no LoRA tensors`);
  const modules = new Map<string, LoraPair>();
  for (const [key, p] of parts) {
    const { layer, target } = parseModuleKey(key);
    if (!p.a || !p.b) {
      throw new AdapterFormatError(`${file}: layer ${layer} ${target} has lora_${p.a ? 'A' : 'B'} but no lora_${p.a ? 'B' : 'A'}`);
    }
    modules.set(key, { inFeatures: p.inFeatures!, outFeatures: p.outFeatures!, a: p.a, b: p.b });
  }
  const declared = config.targetModules;
  if (declared.length > 0) {
    for (const t of targets) {
      if (!declared.includes(t)) throw new AdapterFormatError(`${file}: has ${t} tensors but target_modules is [${declared.join(', ')}]`);
    }
  } else {
    config.targetModules = [...targets].sort();
  }
  // Every tensor went into `into`'s arrays and it has no other module: its map already holds exactly these.
  if (spare && filled === 2 * modules.size && spare.modules.size === modules.size) return { config, modules: spare.modules };
  return { config, modules };
}

/** The two files of an adapter folder, encoded in `dtype` (fp32 and fp16 load in PEFT as they are). */
export function encodePeftAdapter(adapter: LoraAdapter, dtype: AdapterDtype = 'fp32'): { config: Uint8Array; model: Uint8Array } {
  const { rank } = adapter.config;
  const tensors = new Map<string, TensorToWrite>();
  for (const [key, pair] of adapter.modules) {
    const { layer, target } = parseModuleKey(key);
    if (pair.a.length !== rank * pair.inFeatures || pair.b.length !== pair.outFeatures * rank) {
      throw new AdapterFormatError(
        `layer ${layer} ${target}: A has ${pair.a.length} values and B ${pair.b.length}, rank ${rank} needs ${rank * pair.inFeatures} and ${pair.outFeatures * rank}`,
      );
    }
    const put = (which: 'A' | 'B', data: Float32Array, rows: number, cols: number) => {
      const name = peftTensorName(layer, target, which);
      if (dtype === 'fp32') tensors.set(name, { dtype: 'F32', shape: [rows, cols], data });
      else if (dtype === 'fp16') tensors.set(name, { dtype: 'F16', shape: [rows, cols], data: f32ToF16(data) });
      else {
        const { q, scales } = quantizeInt8(data, rows, cols, which === 'B');
        tensors.set(name, { dtype: 'I8', shape: [rows, cols], data: q });
        tensors.set(`${name}_scale`, { dtype: 'F32', shape: [scales.length], data: scales });
      }
    };
    put('A', pair.a, rank, pair.inFeatures);
    put('B', pair.b, pair.outFeatures, rank);
  }
  // "format: pt" is what PEFT/transformers write; rg_dtype tells a reader what the tensors mean.
  const model = encodeSafetensors(tensors, { format: 'pt', rg_dtype: dtype });
  // target_modules says what the file holds, whatever the in-memory config listed.
  const targetModules = [...new Set([...adapter.modules.keys()].map((k) => parseModuleKey(k).target))];
  const json = peftConfigJson({ ...adapter.config, targetModules });
  const config = new TextEncoder().encode(`${JSON.stringify(json, null, 2)}\n`);
  return { config, model };
}

/** Read a PEFT LoRA folder (adapter_config.json + adapter_model.safetensors). */
export function readPeftAdapter(dir: string): LoraAdapter {
  let configText: string;
  let model: Uint8Array;
  try {
    configText = readFileSync(join(dir, ADAPTER_CONFIG_FILE), 'utf8');
    model = readFileSync(join(dir, ADAPTER_MODEL_FILE));
  } catch (e) {
    throw new AdapterFormatError(`${dir}: cannot read adapter (${(e as Error).message})`);
  }
  return decodePeftAdapter(configText, model, dir);
}

/** fp32 bytes the adapter takes in memory. */
export function adapterBytes(adapter: LoraAdapter): number {
  let n = 0;
  for (const p of adapter.modules.values()) n += p.a.byteLength + p.b.byteLength;
  return n;
}

/** Write an adapter as a new PEFT folder, each file and the folder flushed to disk. */
export function writePeftAdapter(dir: string, adapter: LoraAdapter, dtype: AdapterDtype = 'fp32'): void {
  const { config, model } = encodePeftAdapter(adapter, dtype);
  writeFolderDurable(dir, { [ADAPTER_CONFIG_FILE]: config, [ADAPTER_MODEL_FILE]: model });
}

/**
 * The adapter as it comes back after being stored in `dtype`. The hook for measuring what a
 * storage dtype costs (e.g. the change in logits it causes, which needs the engine).
 */
export function roundTripDtype(adapter: LoraAdapter, dtype: AdapterDtype): LoraAdapter {
  const { config, model } = encodePeftAdapter(adapter, dtype);
  return decodePeftAdapter(new TextDecoder().decode(config), model, `(${dtype} round trip)`);
}
