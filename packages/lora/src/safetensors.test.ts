import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors, f16ToF32, readSafetensors, readSafetensorsHeader, SafetensorsError, toFloat32 } from './safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'rg-st-'));

describe('safetensors', () => {
  it('toFloat32 widens aligned and unaligned bytes alike, into a given array or a new one never sharing the input', () => {
    const halves = Uint16Array.of(0x3c00, 0xc000, 0x3800); // 1, -2, 0.5
    const floats = Float32Array.of(1.5, -3, 0.25);
    for (const [dtype, src, want] of [
      ['F16', new Uint8Array(halves.buffer), [1, -2, 0.5]],
      ['F32', new Uint8Array(floats.buffer), [1.5, -3, 0.25]],
    ] as const) {
      for (const offset of [0, 1]) {
        const bytes = new Uint8Array(src.byteLength + offset).fill(7, 0, offset);
        bytes.set(src, offset);
        const view = bytes.subarray(offset);
        const fresh = toFloat32(view, dtype, 't');
        expect(Array.from(fresh)).toEqual(want);
        expect(fresh.buffer).not.toBe(bytes.buffer);
        const out = new Float32Array(3);
        expect(toFloat32(view, dtype, 't', out)).toBe(out);
        expect(Array.from(out)).toEqual(want);
      }
    }
    expect(() => toFloat32(new Uint8Array(halves.buffer), 'F16', 't', new Float32Array(2))).toThrow(/3 values do not fit an output of 2/);
  });

  it('round-trips f32 tensors and metadata', () => {
    const a = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const b = Float32Array.from([-1.5]);
    const bytes = encodeSafetensors(
      new Map([
        ['w.b', { dtype: 'F32', shape: [1], data: b }],
        ['w.a', { dtype: 'F32', shape: [2, 3], data: a }],
      ]),
      { format: 'pt' },
    );
    const path = join(dir, 'x.safetensors');
    writeFileSync(path, bytes);
    const h = readSafetensorsHeader(path);
    expect(h.metadata).toEqual({ format: 'pt' });
    expect(h.dataStart % 8).toBe(0);
    const t = readSafetensors(path);
    expect(t.get('w.a')!.dims).toEqual([2, 3]);
    expect(Array.from(t.get('w.a')!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(t.get('w.b')!.data)).toEqual([-1.5]);
  });

  it('widens f16 and bf16 exactly', () => {
    expect(Array.from(f16ToF32(Uint16Array.from([0x3c00, 0xc000, 0x0001, 0x7c00])))).toEqual([1, -2, 2 ** -24, Number.POSITIVE_INFINITY]);
    const bf = Uint16Array.from([0x3f80, 0xc040]); // 1.0, -3.0
    const path = join(dir, 'bf.safetensors');
    writeFileSync(path, encodeSafetensors(new Map([['t', { dtype: 'BF16', shape: [2], data: bf }]])));
    expect(Array.from(readSafetensors(path).get('t')!.data)).toEqual([1, -3]);
  });

  it('names the file and the problem when truncated', () => {
    const bytes = encodeSafetensors(new Map([['t', { dtype: 'F32', shape: [4], data: new Float32Array(4) }]]));
    const path = join(dir, 'trunc.safetensors');
    writeFileSync(path, bytes.subarray(0, bytes.byteLength - 3));
    expect(() => readSafetensors(path)).toThrow(SafetensorsError);
    expect(() => readSafetensors(path)).toThrow(/trunc\.safetensors.*"t".*truncated/);
    const junk = join(dir, 'junk.safetensors');
    writeFileSync(junk, 'hello world, not a tensor file');
    expect(() => readSafetensors(junk)).toThrow(/junk\.safetensors: header length/);
  });
});
