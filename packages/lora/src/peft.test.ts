import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { composeCat, composeLinear } from './compose.js';
import { moduleKey } from './lora.js';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_MODEL_FILE,
  decodePeftAdapter,
  encodePeftAdapter,
  type LoraAdapter,
  loraScale,
  peftTensorName,
  readPeftAdapter,
  writePeftAdapter,
} from './peft.js';
import { encodeSafetensors } from './safetensors.js';
import { deltaOf, maxAbsDiff, randomAdapter } from './testing.js';

// Written by tools/reference/adapter_store_peft.py with PyTorch + PEFT (see its docstring).
const FIXTURES = fileURLToPath(new URL('../../../tools/reference/fixtures/adapter-store/', import.meta.url));
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'));
const peft = (name: string) => readPeftAdapter(join(FIXTURES, `peft-${name}`));
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

const scratch = mkdtempSync(join(tmpdir(), 'rg-peft-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('reading a real PEFT save', () => {
  for (const name of ['one', 'two', 'three']) {
    it(`adapter "${name}": config, tensor values and sums are exactly PEFT's`, () => {
      const want = expected.adapters[name];
      const adapter = peft(name);
      expect(adapter.config.rank).toBe(want.r);
      expect(adapter.config.alpha).toBe(want.lora_alpha);
      expect(adapter.config.targetModules).toEqual(['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']);
      expect(adapter.modules.size).toBe(14);
      for (const [tensor, { shape, values }] of Object.entries(want.tensors) as Array<[string, { shape: number[]; values: number[] }]>) {
        const m = /layers\.(\d+)\.\w+\.(\w+)\.lora_(A|B)/.exec(tensor)!;
        const pair = adapter.modules.get(moduleKey(Number(m[1]), m[2]))!;
        const data = m[3] === 'A' ? pair.a : pair.b;
        expect(
          m[3] === 'A' ? [pair.a.length / pair.inFeatures, pair.inFeatures] : [pair.outFeatures, pair.b.length / pair.outFeatures],
        ).toEqual(shape);
        expect(Array.from(data)).toEqual(values);
      }
      for (const [tensor, sum] of Object.entries(want.sums) as Array<[string, number]>) {
        const m = /layers\.(\d+)\.\w+\.(\w+)\.lora_(A|B)/.exec(tensor)!;
        const pair = adapter.modules.get(moduleKey(Number(m[1]), m[2]))!;
        const data = m[3] === 'A' ? pair.a : pair.b;
        expect(data.reduce((s, v) => s + v, 0)).toBeCloseTo(sum, 4);
      }
    });
  }
});

describe('composition matches PEFT add_weighted_adapter', () => {
  it('cat (one*0.7 + two*-0.3): delta W equals PEFT and the sum of scaled, weighted deltas', () => {
    const one = peft('one');
    const two = peft('two');
    const want = expected.compositions.cat_one_two;
    const cat = composeCat([
      { adapter: one, weight: 0.7 },
      { adapter: two, weight: -0.3 },
    ]);
    expect(cat.rank).toBe(want.r);
    for (const [key, { values }] of Object.entries(want.delta) as Array<[string, { values: number[] }]>) {
      const got = deltaOf(cat.modules.get(key)!, cat.rank);
      expect(maxAbsDiff(got, values)).toBeLessThan(1e-5);
      const d1 = deltaOf(one.modules.get(key)!, 4, loraScale(one.config) * 0.7);
      const d2 = deltaOf(two.modules.get(key)!, 2, loraScale(two.config) * -0.3);
      expect(
        maxAbsDiff(
          got,
          d1.map((v, i) => v + d2[i]),
        ),
      ).toBeLessThan(1e-5);
    }
  });

  it('linear (one*0.6 + three*0.4): delta W equals PEFT', () => {
    const want = expected.compositions.linear_one_three;
    const lin = composeLinear([
      { adapter: peft('one'), weight: 0.6 },
      { adapter: peft('three'), weight: 0.4 },
    ]);
    expect(lin.rank).toBe(want.r);
    for (const [key, { values }] of Object.entries(want.delta) as Array<[string, { values: number[] }]>) {
      expect(maxAbsDiff(deltaOf(lin.modules.get(key)!, lin.rank), values)).toBeLessThan(1e-5);
    }
  });
});

/** The rank-6 cat of one and two as a PEFT adapter (scale folded in, so alpha = r). */
function catAsAdapter(): LoraAdapter {
  const cat = composeCat([
    { adapter: peft('one'), weight: 0.7 },
    { adapter: peft('two'), weight: -0.3 },
  ]);
  return {
    config: { rank: cat.rank, alpha: cat.rank, targetModules: cat.targets, baseModel: null, useRslora: false, dropout: 0 },
    modules: new Map([...cat.modules].map(([k, m]) => [k, { inFeatures: m.inFeatures, outFeatures: m.outFeatures, a: m.a, b: m.b }])),
  };
}

describe('PEFT loads what rg writes', () => {
  // Each folder is written by rg, committed, and loaded by PEFT in adapter_store_peft.py step 2.
  const cases: Array<[string, () => LoraAdapter, 'fp32' | 'fp16']> = [
    ['rg-one-fp32', () => peft('one'), 'fp32'],
    ['rg-one-fp16', () => peft('one'), 'fp16'],
    ['rg-cat-one-two', catAsAdapter, 'fp32'],
  ];
  const check = JSON.parse(readFileSync(join(FIXTURES, 'rg-written-check.json'), 'utf8'));
  for (const [folder, make, dtype] of cases) {
    it(`${folder}: rg writes the committed bytes, and PEFT loaded them with equal tensors and logits`, () => {
      const committed = join(FIXTURES, folder);
      if (process.env.RG_WRITE_FIXTURES === '1') {
        rmSync(committed, { recursive: true, force: true });
        writePeftAdapter(committed, make(), dtype);
      }
      const out = join(scratch, folder);
      writePeftAdapter(out, make(), dtype);
      for (const f of [ADAPTER_CONFIG_FILE, ADAPTER_MODEL_FILE])
        expect(readFileSync(join(out, f))).toEqual(readFileSync(join(committed, f)));
      expect(check[folder].ok).toBe(true);
      // The Python check ran on exactly these bytes.
      expect(check[folder].sha256).toBe(sha256(join(committed, ADAPTER_MODEL_FILE)));
      expect(check[folder].config_sha256).toBe(sha256(join(committed, ADAPTER_CONFIG_FILE)));
    });
  }
});

describe('dtypes', () => {
  it('fp32 round-trips exactly; fp16 within half precision; int8 within half a step of each rank component scale', () => {
    // Wide enough that tensor bytes, not the JSON header, dominate the file size.
    const adapter = randomAdapter(7, 3, 6, { layers: 1, hidden: 64, intermediate: 96, targets: ['q_proj', 'down_proj'] });
    const back = (dtype: 'fp32' | 'fp16' | 'int8') => {
      const { config, model } = encodePeftAdapter(adapter, dtype);
      return { decoded: decodePeftAdapter(new TextDecoder().decode(config), model, `mem-${dtype}`), bytes: model.byteLength };
    };
    const f32 = back('fp32');
    const f16 = back('fp16');
    const i8 = back('int8');
    expect(f16.bytes).toBeLessThan(f32.bytes * 0.6);
    expect(i8.bytes).toBeLessThan(f32.bytes);
    for (const [key, pair] of adapter.modules) {
      expect(f32.decoded.modules.get(key)!.a).toEqual(pair.a);
      expect(f32.decoded.modules.get(key)!.b).toEqual(pair.b);
      expect(maxAbsDiff(f16.decoded.modules.get(key)!.a, pair.a)).toBeLessThanOrEqual(2 ** -11);
      const q = i8.decoded.modules.get(key)!;
      // Each rank component (row of A, column of B) is within half a quantization step of its own scale.
      for (let j = 0; j < 3; j++) {
        const aRow = pair.a.subarray(j * pair.inFeatures, (j + 1) * pair.inFeatures);
        const aStep = Math.max(...aRow.map(Math.abs)) / 127;
        expect(maxAbsDiff(q.a.subarray(j * pair.inFeatures, (j + 1) * pair.inFeatures), aRow)).toBeLessThanOrEqual(aStep / 2 + 1e-7);
        const col = (m: Float32Array) => Array.from({ length: pair.outFeatures }, (_, o) => m[o * 3 + j]);
        const bStep = Math.max(...col(pair.b).map(Math.abs)) / 127;
        expect(maxAbsDiff(col(q.b), col(pair.b))).toBeLessThanOrEqual(bStep / 2 + 1e-7);
      }
    }
  });
});

describe('bad input names the file and the problem', () => {
  const write = (name: string, config: Record<string, unknown>, model: Uint8Array) => {
    const dir = join(scratch, name);
    rmSync(dir, { recursive: true, force: true });
    writePeftAdapter(dir, randomAdapter(1));
    writeFileSync(join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(config));
    writeFileSync(join(dir, ADAPTER_MODEL_FILE), model);
    return dir;
  };
  const good = encodePeftAdapter(randomAdapter(1));
  const goodConfig = JSON.parse(new TextDecoder().decode(good.config));

  it('rejects a non-LoRA or DoRA config, naming the field', () => {
    expect(() => readPeftAdapter(write('ia3', { ...goodConfig, peft_type: 'IA3' }, good.model))).toThrow(
      /ia3\/adapter_config.json: field "peft_type" is "IA3", expected "LORA"/,
    );
    expect(() => readPeftAdapter(write('dora', { ...goodConfig, use_dora: true }, good.model))).toThrow(/field "use_dora"/);
  });

  it('rejects tensors whose rank differs from r', () => {
    expect(() => readPeftAdapter(write('rank', { ...goodConfig, r: 3 }, good.model))).toThrow(/has rank 2 .*adapter_config.json says r=3/);
  });

  it('rejects a truncated safetensors file', () => {
    expect(() => readPeftAdapter(write('trunc', goodConfig, good.model.subarray(0, good.model.byteLength - 10)))).toThrow(
      /trunc\/adapter_model.safetensors: tensor .* \(file truncated\)/,
    );
  });

  it('rejects an A without its B and a stray tensor', () => {
    const onlyA = encodeSafetensors(
      new Map([[peftTensorName(0, 'q_proj', 'A'), { dtype: 'F32' as const, shape: [2, 8], data: new Float32Array(16) }]]),
    );
    expect(() => readPeftAdapter(write('onlya', goodConfig, onlyA))).toThrow(/layer 0 q_proj has lora_A but no lora_B/);
    const stray = encodeSafetensors(new Map([['lm_head.weight', { dtype: 'F32' as const, shape: [2], data: new Float32Array(2) }]]));
    expect(() => readPeftAdapter(write('stray', goodConfig, stray))).toThrow(/unexpected tensor "lm_head.weight"/);
  });

  it('names a missing folder', () => {
    expect(() => readPeftAdapter(join(scratch, 'nope'))).toThrow(/nope: cannot read adapter/);
  });
});
