import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dequantize, GGML_TYPES, type GgmlTypeName, ggmlTypeName } from './quants.js';

const fixture = JSON.parse(readFileSync(new URL('../../fixtures/gguf-reference.json', import.meta.url), 'utf8')) as {
  blocks: Record<string, { hex: string; values: number[] }>;
};

// f16 bit patterns of a few exact values.
const H = { half: 0x3800, one: 0x3c00, two: 0x4000, minusOne: 0xbc00, quarter: 0x3400, eighth: 0x3000 };

function block(size: number, fill: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
  const bytes = new Uint8Array(size);
  fill(new DataView(bytes.buffer), bytes);
  return bytes;
}

describe('dequantize: hand-built blocks', () => {
  it('Q8_0: d * int8', () => {
    const b = block(34, (v) => {
      v.setUint16(0, H.half, true);
      for (let i = 0; i < 32; i++) v.setInt8(2 + i, i - 16);
    });
    expect(Array.from(dequantize('Q8_0', b, 32))).toEqual(Array.from({ length: 32 }, (_, i) => (i - 16) / 2));
  });

  it('Q4_0: low nibbles are elements 0..15, high nibbles 16..31, offset 8', () => {
    const b = block(18, (v, bytes) => {
      v.setUint16(0, H.two, true);
      for (let j = 0; j < 16; j++) bytes[2 + j] = j | ((15 - j) << 4);
    });
    const want = [...Array.from({ length: 16 }, (_, j) => 2 * (j - 8)), ...Array.from({ length: 16 }, (_, j) => 2 * (15 - j - 8))];
    expect(Array.from(dequantize('Q4_0', b, 32))).toEqual(want);
  });

  it('Q4_1: d * q + m', () => {
    const b = block(20, (v, bytes) => {
      v.setUint16(0, H.quarter, true);
      v.setUint16(2, H.minusOne, true);
      for (let j = 0; j < 16; j++) bytes[4 + j] = (j % 16) | (((j + 3) % 16) << 4);
    });
    const want = [...Array.from({ length: 16 }, (_, j) => j / 4 - 1), ...Array.from({ length: 16 }, (_, j) => ((j + 3) % 16) / 4 - 1)];
    expect(Array.from(dequantize('Q4_1', b, 32))).toEqual(want);
  });

  it('Q4_K: 6-bit scales/mins of 8 sub-blocks, 64 values per 32 bytes', () => {
    // Sub-block s gets scale s+1 and min 2s; sub-blocks 4..7 use the packed high bits too.
    const sc = [1, 2, 3, 4, 5, 6, 7, 40];
    const mn = [0, 2, 4, 6, 8, 10, 12, 63];
    const b = block(144, (v, bytes) => {
      v.setUint16(0, H.half, true); // d
      v.setUint16(2, H.quarter, true); // dmin
      for (let s = 0; s < 4; s++) {
        bytes[4 + s] = (sc[s] & 63) | ((sc[s + 4] >> 4) << 6);
        bytes[8 + s] = (mn[s] & 63) | ((mn[s + 4] >> 4) << 6);
        bytes[12 + s] = (sc[s + 4] & 15) | ((mn[s + 4] & 15) << 4);
      }
      for (let i = 0; i < 128; i++) bytes[16 + i] = (i % 16) | ((15 - (i % 16)) << 4);
    });
    const want: number[] = [];
    for (let chunk = 0; chunk < 4; chunk++) {
      for (let l = 0; l < 32; l++) want.push(0.5 * sc[2 * chunk] * (l % 16) - 0.25 * mn[2 * chunk]);
      for (let l = 0; l < 32; l++) want.push(0.5 * sc[2 * chunk + 1] * (15 - (l % 16)) - 0.25 * mn[2 * chunk + 1]);
    }
    expect(Array.from(dequantize('Q4_K', b, 256))).toEqual(want);
  });

  it('Q6_K: 4 low bits + 2 high bits - 32, int8 scale per 16 values', () => {
    // Give value i the 6-bit code i % 64 and sub-block s the scale s - 8, then pack as ggml does.
    const code = (i: number) => (i * 7) % 64;
    const scale = (s: number) => s - 8;
    const b = block(210, (v, bytes) => {
      for (let half = 0; half < 2; half++) {
        for (let l = 0; l < 32; l++) {
          const q = [0, 32, 64, 96].map((o) => code(128 * half + o + l));
          bytes[64 * half + l] = (q[0] & 15) | ((q[2] & 15) << 4);
          bytes[64 * half + l + 32] = (q[1] & 15) | ((q[3] & 15) << 4);
          bytes[128 + 32 * half + l] = (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6);
        }
      }
      for (let s = 0; s < 16; s++) v.setInt8(192 + s, scale(s));
      v.setUint16(208, H.eighth, true);
    });
    const want = Array.from({ length: 256 }, (_, i) => 0.125 * scale(i >> 4) * (code(i) - 32));
    expect(Array.from(dequantize('Q6_K', b, 256))).toEqual(want);
  });

  it('F16 and BF16 widen exactly', () => {
    const f16 = block(6, (v) => {
      v.setUint16(0, H.one, true);
      v.setUint16(2, 0x0001, true); // smallest subnormal
      v.setUint16(4, 0xfc00, true); // -inf
    });
    expect(Array.from(dequantize('F16', f16, 3))).toEqual([1, 2 ** -24, Number.NEGATIVE_INFINITY]);
    const bf16 = block(4, (v) => {
      v.setUint16(0, 0x3f80, true); // 1
      v.setUint16(2, 0xc0a0, true); // -5
    });
    expect(Array.from(dequantize('BF16', bf16, 2))).toEqual([1, -5]);
  });

  it('refuses a byte count that does not match', () => {
    expect(() => dequantize('Q4_1', new Uint8Array(19), 32)).toThrow(/need 20 bytes, got 19/);
    expect(() => dequantize('Q8_0', new Uint8Array(34), 31)).toThrow(/whole number of 32-value blocks/);
  });

  it('knows ggml type ids', () => {
    expect(ggmlTypeName(3)).toBe('Q4_1');
    expect(ggmlTypeName(13)).toBeUndefined(); // Q5_K
  });
});

describe('dequantize: random blocks against the Python gguf package', () => {
  for (const [type, { hex, values }] of Object.entries(fixture.blocks)) {
    it(`${type} equals gguf.quants.dequantize bit for bit`, () => {
      const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
      const name = type as GgmlTypeName;
      expect(name in GGML_TYPES).toBe(true);
      expect(Array.from(dequantize(name, bytes, values.length))).toEqual(values.map(Math.fround));
    });
  }
});
