import { crc32, deflateRawSync } from 'node:zlib';

/**
 * Test helpers (not exported from the package): a minimal GGUF v3 writer and a tiny byte-level
 * BPE vocabulary, so tests can write small model files of any shape.
 */

export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'strings'; value: string[] }
  | { type: 'i32s'; value: number[] };

export interface GgufTensorToWrite {
  name: string;
  /** ggml type id (0 F32, 1 F16, 8 Q8_0, ...). */
  type: number;
  /** GGUF order: fastest-varying first. */
  dims: number[];
  data: Uint8Array;
}

class Writer {
  private parts: Uint8Array[] = [];
  length = 0;
  bytes(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.byteLength;
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.bytes(b);
  }
  i32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    this.bytes(b);
  }
  u64(v: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    this.bytes(b);
  }
  f32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.bytes(b);
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.byteLength);
    this.bytes(b);
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    if (n) this.bytes(new Uint8Array(n));
  }
  result(): Uint8Array {
    const out = new Uint8Array(this.length);
    let p = 0;
    for (const part of this.parts) {
      out.set(part, p);
      p += part.byteLength;
    }
    return out;
  }
}

const VALUE_TYPE = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9 };

/** Serialize a GGUF file (v2 and v3 share this layout; alignment 32). */
export function writeGguf(metadata: Record<string, GgufValue>, tensors: GgufTensorToWrite[], version = 3): Uint8Array {
  const w = new Writer();
  w.bytes(new TextEncoder().encode('GGUF'));
  w.u32(version);
  w.u64(tensors.length);
  w.u64(Object.keys(metadata).length);
  for (const [key, v] of Object.entries(metadata)) {
    w.str(key);
    switch (v.type) {
      case 'u32':
        w.u32(VALUE_TYPE.u32);
        w.u32(v.value);
        break;
      case 'i32':
        w.u32(VALUE_TYPE.i32);
        w.i32(v.value);
        break;
      case 'f32':
        w.u32(VALUE_TYPE.f32);
        w.f32(v.value);
        break;
      case 'bool':
        w.u32(VALUE_TYPE.bool);
        w.bytes(new Uint8Array([v.value ? 1 : 0]));
        break;
      case 'string':
        w.u32(VALUE_TYPE.string);
        w.str(v.value);
        break;
      case 'strings':
        w.u32(VALUE_TYPE.array);
        w.u32(VALUE_TYPE.string);
        w.u64(v.value.length);
        for (const s of v.value) w.str(s);
        break;
      case 'i32s':
        w.u32(VALUE_TYPE.array);
        w.u32(VALUE_TYPE.i32);
        w.u64(v.value.length);
        for (const x of v.value) w.i32(x);
        break;
    }
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    offsets.push(offset);
    offset += Math.ceil(t.data.byteLength / 32) * 32;
  }
  for (const [i, t] of tensors.entries()) {
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(offsets[i]);
  }
  w.pad(32);
  for (const t of tensors) {
    w.bytes(t.data);
    w.pad(32);
  }
  return w.result();
}

/** GPT-2's byte-to-character map: the alphabet byte-level BPE vocabularies are written in. */
export function byteAlphabet(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : next++));
}

/**
 * A tiny byte-level BPE vocabulary: special tokens first, then the 256 byte characters, then
 * the tokens made by `merges` (pairs of existing tokens, e.g. 'Ġ t').
 */
export function tinyVocab(specials: string[], merges: string[]): string[] {
  const tokens = [...specials, ...byteAlphabet()];
  for (const m of merges) tokens.push(m.replace(' ', ''));
  return tokens;
}

/** A zip archive of the given members, stored (method 0) or deflated (method 8), as a wheel is. */
export function writeZip(members: { name: string; data: Uint8Array; deflate: boolean }[]): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const name = Buffer.from(m.name);
    const body = m.deflate ? deflateRawSync(m.data) : Buffer.from(m.data);
    const crc = crc32(m.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(m.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(m.data.byteLength, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(m.deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(m.data.byteLength, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}
