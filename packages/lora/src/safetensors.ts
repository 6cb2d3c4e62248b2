import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header mapping tensor
 * names to { dtype, shape, data_offsets: [begin, end] } relative to the end of the header, then
 * the raw little-endian bytes. Optional "__metadata__" holds string-to-string metadata.
 */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I8' | 'U8';

export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range inside the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Absolute file offset where the data section starts. */
  dataStart: number;
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I8: 1, U8: 1 };

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** Parse and validate a header from the first bytes of a file (or a whole buffer). */
export function parseSafetensorsHeader(head: Uint8Array, fileBytes: number, source: string): SafetensorsHeader {
  if (fileBytes < 8 || head.byteLength < 8)
    throw new SafetensorsError(`${source}: too short to be a safetensors file (${fileBytes} bytes)`);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen <= 0 || 8 + headerLen > fileBytes) {
    throw new SafetensorsError(
      `${source}: header length ${headerLen} does not fit in a ${fileBytes}-byte file (truncated or not safetensors)`,
    );
  }
  if (head.byteLength < 8 + headerLen) throw new SafetensorsError(`${source}: header not fully read`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder().decode(head.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new SafetensorsError(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + headerLen;
  const dataBytes = fileBytes - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (!e || typeof e.dtype !== 'string' || !(e.dtype in BYTES)) {
      throw new SafetensorsError(
        `${source}: tensor "${name}" has unsupported dtype ${JSON.stringify(e?.dtype)} (expected one of ${Object.keys(BYTES).join(', ')})`,
      );
    }
    if (!Array.isArray(e.shape) || !Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) {
      throw new SafetensorsError(`${source}: tensor "${name}" lacks shape or data_offsets`);
    }
    const [begin, end] = e.data_offsets;
    const expected = e.shape.reduce((a, b) => a * b, 1) * BYTES[e.dtype as SafetensorsDtype];
    if (end - begin !== expected) {
      throw new SafetensorsError(
        `${source}: tensor "${name}" spans ${end - begin} bytes, its shape [${e.shape}] ${e.dtype} needs ${expected}`,
      );
    }
    if (end > dataBytes) {
      throw new SafetensorsError(`${source}: tensor "${name}" ends at byte ${end} of a ${dataBytes}-byte data section (file truncated)`);
    }
    tensors.set(name, { dtype: e.dtype as SafetensorsDtype, shape: e.shape, begin, end });
  }
  return { tensors, metadata, dataStart };
}

/** Read the header of a safetensors file without reading the tensor data. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    const lenBuf = new Uint8Array(8);
    const size = fstatSize(fd);
    readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = size >= 8 ? Number(new DataView(lenBuf.buffer).getBigUint64(0, true)) : 0;
    const head = new Uint8Array(8 + Math.min(Math.max(headerLen, 0), Math.max(size - 8, 0)));
    readSync(fd, head, 0, head.byteLength, 0);
    return parseSafetensorsHeader(head, size, path);
  } finally {
    closeSync(fd);
  }
}

function fstatSize(fd: number): number {
  return fstatSync(fd).size;
}

/** Convert one tensor's raw bytes to fp32 (F16 and BF16 widened exactly). */
export function toFloat32(bytes: Uint8Array, dtype: SafetensorsDtype, source: string, out?: Float32Array): Float32Array {
  const n = bytes.byteLength / BYTES[dtype];
  if (out && out.length !== n) throw new RangeError(`${source}: ${n} values do not fit an output of ${out.length}`);
  // Typed-array views need aligned offsets; otherwise an aligned copy (a Buffer's slice() would be a view into its pool).
  const aligned = (size: number) => (bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes));
  switch (dtype) {
    case 'F32': {
      const src = aligned(4);
      const values = new Float32Array(src.buffer, src.byteOffset, n);
      if (out) out.set(values);
      return out ?? (src === bytes ? Float32Array.from(values) : values);
    }
    case 'F64': {
      const src = aligned(8);
      const values = new Float64Array(src.buffer, src.byteOffset, n);
      if (!out) return Float32Array.from(values);
      out.set(values);
      return out;
    }
    case 'F16': {
      const src = aligned(2);
      return f16ToF32(new Uint16Array(src.buffer, src.byteOffset, n), out);
    }
    case 'BF16': {
      const src = aligned(2);
      const halves = new Uint16Array(src.buffer, src.byteOffset, n);
      const dst = out ?? new Float32Array(n);
      const bits = new Uint32Array(dst.buffer, dst.byteOffset, n);
      for (let i = 0; i < n; i++) bits[i] = halves[i] << 16;
      return dst;
    }
    default:
      throw new SafetensorsError(`${source}: dtype ${dtype} is not a float type`);
  }
}

/** The fp32 value of one IEEE half, including subnormals, inf and NaN (exact: every half is an fp32). */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// All 65,536 halves, built on first use (256 KB): a lookup per element widens an fp16 adapter ~30x
// faster than computing each value, which is what made fp16 adapters slow to fetch.
let HALF_TABLE: Float32Array | undefined;

/** IEEE half to single precision, including subnormals, inf and NaN. */
export function f16ToF32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  if (!HALF_TABLE) {
    HALF_TABLE = new Float32Array(65_536);
    for (let h = 0; h < 65_536; h++) HALF_TABLE[h] = halfValue(h);
  }
  const table = HALF_TABLE;
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
  return out;
}

/** Read every tensor of a safetensors file (or the named ones) as fp32. */
export function readSafetensors(path: string, names?: Iterable<string>): Map<string, { dims: number[]; data: Float32Array }> {
  const header = readSafetensorsHeader(path);
  const wanted = names ? [...names] : [...header.tensors.keys()];
  const out = new Map<string, { dims: number[]; data: Float32Array }>();
  const fd = openSync(path, 'r');
  try {
    for (const name of wanted) {
      const e = header.tensors.get(name);
      if (!e) throw new SafetensorsError(`${path}: no tensor named "${name}"`);
      const buf = new Uint8Array(e.end - e.begin);
      readSync(fd, buf, 0, buf.byteLength, header.dataStart + e.begin);
      out.set(name, { dims: e.shape, data: toFloat32(buf, e.dtype, `${path}: ${name}`) });
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

export interface TensorToWrite {
  dtype: SafetensorsDtype;
  shape: number[];
  data: ArrayBufferView;
}

/**
 * Serialize tensors into one safetensors buffer. Names are written in sorted order and the
 * header is padded with spaces to an 8-byte boundary, as the reference implementation does.
 */
export function encodeSafetensors(tensors: Map<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = t.data.byteLength;
    const expected = t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
    if (bytes !== expected)
      throw new SafetensorsError(`tensor "${name}": ${bytes} bytes for shape [${t.shape}] ${t.dtype} (expected ${expected})`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.byteLength;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}
