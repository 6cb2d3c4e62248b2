import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LoadedModel, type LoraParams, loadModel, OrtCausalLM, TrainingSession } from '@rg/engine';
import { writeTinyModel } from '@rg/engine/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collate } from './batching.js';
import { type DistillExample, distillExample, teacherBatch, teacherTargets } from './distill.js';
import { closedBookPrompt } from './recipe.js';

// Made by tools/reference/distill_reference.py: PyTorch (float64) + PEFT on the tiny model writeTinyModel writes.
const fixture = JSON.parse(readFileSync(new URL('../fixtures/distill-reference.json', import.meta.url), 'utf8')) as {
  passage: string;
  question: string;
  answer: string;
  studentIds: number[];
  teacherIds: number[];
  answerLength: number;
  topK: number;
  teacher: { ids: number[]; probs: number[] };
  lora: {
    rank: number;
    alpha: number;
    targets: Array<'q_proj' | 'v_proj' | 'gate_proj' | 'up_proj' | 'down_proj'>;
    tensors: Record<string, number[]>;
  };
  kl: { loss: number; grads: Record<string, number[]> };
  both: { weight: number; ce: number; loss: number; grads: Record<string, number[]> };
};
const scale = fixture.lora.alpha / fixture.lora.rank;
// transformers builds the rotary tables in float32 even in a float64 model, so the two sides agree to ~1e-7 relative,
// not to float64's last digits; a wrong gradient rule is off by orders of magnitude more.
const relative = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

describe('context distillation vs PyTorch + PEFT (tiny model, float64 reference)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rg-distill-ref-'));
  let model: LoadedModel;
  let example: DistillExample;
  beforeAll(async () => {
    model = await loadModel(writeTinyModel(join(dir, 'tiny')));
    example = distillExample(model.tokenizer, fixture.passage, closedBookPrompt(fixture.question), fixture.answer);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("renders student and teacher as transformers' chat template does, answers aligned", () => {
    expect(example.inputIds).toEqual(fixture.studentIds);
    expect(example.distill.teacherInputIds).toEqual(fixture.teacherIds);
    expect(example.distill.answerLength).toBe(fixture.answerLength);
  });

  it("the teacher pass on the inference graph gives the teacher's top-k ids and probabilities", async () => {
    const lm = await OrtCausalLM.load(model.config, model.weights, { threads: 1 });
    const t = await teacherTargets(lm, example.distill.teacherInputIds, example.distill.answerLength, fixture.topK);
    await lm.dispose();
    expect(Array.from(t.ids)).toEqual(fixture.teacher.ids);
    let worst = 0;
    t.probs.forEach((p, i) => {
      worst = Math.max(worst, Math.abs(p - fixture.teacher.probs[i]));
    });
    // float32 forward vs float64 reference.
    expect(worst).toBeLessThan(1e-5);
  });

  function params(dtype: 'float32' | 'float64'): Map<string, LoraParams> {
    const out = new Map<string, LoraParams>();
    const arr = (v: number[]) => (dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v));
    for (let layer = 0; layer < model.config.numLayers; layer++) {
      for (const target of fixture.lora.targets) {
        const key = `${layer}.${target}`;
        out.set(key, { a: arr(fixture.lora.tensors[`${key}.A`]), b: arr(fixture.lora.tensors[`${key}.B`]) });
      }
    }
    return out;
  }

  /** Worst over tensors of ‖got − expected‖ / ‖expected‖. */
  function gradientError(got: Map<string, LoraParams>, expected: Record<string, number[]>): number {
    let worst = 0;
    let checked = 0;
    for (const [key, g] of got) {
      for (const [m, values] of [
        ['A', g.a],
        ['B', g.b],
      ] as const) {
        const ref = expected[`${key}.${m}`];
        let diff = 0;
        let norm = 0;
        ref.forEach((r, i) => {
          diff += (values[i] - r) ** 2;
          norm += r ** 2;
        });
        expect(norm, `${key}.${m} reference gradient is non-zero`).toBeGreaterThan(0);
        worst = Math.max(worst, Math.sqrt(diff / norm));
        checked++;
      }
    }
    expect(checked).toBe(Object.keys(expected).length);
    return worst;
  }

  async function step(dtype: 'float32' | 'float64', withLabels: boolean) {
    const session = await TrainingSession.create(model.config, model.weights, { targets: fixture.lora.targets, dtype, distill: true });
    const e: DistillExample = {
      ...example,
      labels: withLabels
        ? example.inputIds.map((id, i) => (i >= example.inputIds.length - fixture.answerLength ? id : -100))
        : example.labels,
      distill: {
        ...example.distill,
        targets: { k: fixture.topK, ids: Int32Array.from(fixture.teacher.ids), probs: Float64Array.from(fixture.teacher.probs) },
      },
    };
    const batch = collate([e]);
    batch.teacher = teacherBatch(batch, [e], fixture.topK, withLabels ? fixture.both.weight : 1);
    const r = await session.step(batch, params(dtype), scale);
    await session.release();
    return r;
  }

  it('KL alone: loss and every LoRA gradient match (float64 and float32 graphs)', async () => {
    const r64 = await step('float64', false);
    expect(relative(r64.loss, fixture.kl.loss)).toBeLessThan(1e-6);
    const err64 = gradientError(r64.grads, fixture.kl.grads);
    const r32 = await step('float32', false);
    const err32 = gradientError(r32.grads, fixture.kl.grads);
    console.log(JSON.stringify({ klLoss: [r64.loss, fixture.kl.loss], gradRelErr: { float64: err64, float32: err32 } }));
    expect(err64).toBeLessThan(1e-5);
    expect(err32).toBeLessThan(1e-4);
    expect(relative(r32.loss, fixture.kl.loss)).toBeLessThan(1e-5);
  });

  it('CE on the answer + 0.5·KL: loss and every LoRA gradient match', async () => {
    const r64 = await step('float64', true);
    expect(relative(r64.loss, fixture.both.loss)).toBeLessThan(1e-6);
    expect(relative(r64.distillKl as number, fixture.kl.loss)).toBeLessThan(1e-6);
    const err64 = gradientError(r64.grads, fixture.both.grads);
    const r32 = await step('float32', true);
    const err32 = gradientError(r32.grads, fixture.both.grads);
    console.log(JSON.stringify({ bothLoss: [r64.loss, fixture.both.loss], gradRelErr: { float64: err64, float32: err32 } }));
    expect(err64).toBeLessThan(1e-5);
    expect(err32).toBeLessThan(1e-4);
  });
});
