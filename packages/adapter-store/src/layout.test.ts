import { join, relative, resolve } from 'node:path';
import { f16ToF32, f32ToF16 } from '@rg/lora';
import { describe, expect, it } from 'vitest';
import { adapterRelPath, escapeSegment } from './layout.js';

const key = (id: string) => ({ model: 'smollm2', rank: 2, alpha: 4, dataset: 'pubmedqa', lr: 0.0001, epochs: 1, id });

describe('layout', () => {
  it('follows {model}/rank={r}_alpha={alpha}/{dataset}/lr={lr}_epoch={epochs}/{id} and .../base_weight', () => {
    expect(adapterRelPath(key('doc-1'))).toBe('smollm2/rank=2_alpha=4/pubmedqa/lr=0.0001_epoch=1/doc-1');
    expect(adapterRelPath({ model: 'smollm2', rank: 2, alpha: 4 })).toBe('smollm2/rank=2_alpha=4/base_weight');
  });

  it('keeps every hostile id inside the root', () => {
    const root = '/store';
    const hostile = [
      '../../etc/passwd',
      '/etc/passwd',
      '..',
      '.',
      '.hidden',
      'a/../../b',
      'C:\\Windows',
      'x\0y',
      '🙂 é 中文',
      'a'.repeat(5000),
    ];
    const seen = new Set<string>();
    for (const id of hostile) {
      const rel = adapterRelPath(key(id));
      const abs = resolve(root, rel);
      expect(relative(root, abs).startsWith('..')).toBe(false);
      // One segment per id, no separator or NUL survives.
      const seg = rel.split('/').at(-1)!;
      expect(seg).toMatch(/^[a-z0-9_.%~A-F-]+$/);
      expect(seg.startsWith('.')).toBe(false);
      expect(seg.length).toBeLessThanOrEqual(100);
      expect(join(root, rel)).toBe(abs);
      seen.add(seg);
    }
    expect(seen.size).toBe(hostile.length);
  });

  it('is injective even after case folding, and long ids differ by their hash suffix', () => {
    const ids = ['Doc', 'doc', 'DOC', 'dOc', '%44oc', 'd%6Fc'];
    const folded = ids.map((id) => escapeSegment(id, 'id').toLowerCase());
    expect(new Set(folded).size).toBe(ids.length);
    const a = escapeSegment(`${'x'.repeat(200)}a`, 'id');
    const b = escapeSegment(`${'x'.repeat(200)}b`, 'id');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^x{80}~[0-9a-f]{16}$/);
    expect(escapeSegment('é', 'id')).toBe('%C3%A9');
  });

  it('rejects empty names, the reserved dataset and bad numbers, naming the field', () => {
    expect(() => adapterRelPath(key(''))).toThrow(/id is empty/);
    expect(() => adapterRelPath({ ...key('x'), dataset: 'base_weight' })).toThrow(/reserved/);
    expect(() => adapterRelPath({ ...key('x'), rank: 0 })).toThrow(/rank is 0/);
    expect(() => adapterRelPath({ ...key('x'), lr: Number.NaN })).toThrow(/lr is null/);
  });
});

describe('f32ToF16', () => {
  it('round-trips every finite half exactly', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((h) => (h & 0x7c00) !== 0x7c00 || (h & 0x3ff) === 0);
    expect(f32ToF16(f16ToF32(all))).toEqual(all);
  });

  it('rounds to nearest even, to subnormals and to infinity like IEEE', () => {
    const cases: Array<[number, number]> = [
      [1, 0x3c00],
      [1 + 2 ** -11, 0x3c00], // tie -> even
      [1 + 3 * 2 ** -11, 0x3c02], // tie -> even (up)
      [65504, 0x7bff],
      [65520, 0x7c00], // rounds up past the largest half
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000], // tie -> even zero
      [3 * 2 ** -25, 0x0002],
      [-2, 0xc000],
    ];
    expect(Array.from(f32ToF16(Float32Array.from(cases.map((c) => c[0]))))).toEqual(cases.map((c) => c[1]));
  });
});
