// Where a LoRA training step's time goes: rg's training graph on SmolLM2 (rank 2, the seven targets by default),
// one sequence of `seq` random tokens, a few steps with ORT's profiler on; prints the time per op type per step.
// Usage (after `pnpm build`): node tools/experiments/profile-train.mjs [model] [seq] [steps] [targets, e.g. gate_proj,up_proj,down_proj]
// Env: BY_SHAPE=1 groups ops by input shapes, TOP=n rows, ARENA=0 turns ORT's memory arena off, CHECKPOINT=1 builds the
// graph with gradient checkpointing (layers recomputed in the backward pass), MEMPATTERN=1 turns ORT's memory pattern on.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LORA_TARGETS, loadModel, seededRandom, TrainingSession } from '../../packages/engine/dist/index.js';

const [spec = 'smollm2-135m-instruct', seqArg = '256', stepsArg = '3', targetsArg] = process.argv.slice(2);
const seq = Number(seqArg);
const targets = targetsArg ? targetsArg.split(',') : LORA_TARGETS;
const prefix = join(tmpdir(), `rg-train-profile-${process.pid}`);
const model = await loadModel(spec);
const session = await TrainingSession.create(model.config, model.weights, {
  targets,
  threads: 2,
  profile: prefix,
  memoryArena: process.env.ARENA !== '0',
  checkpoint: process.env.CHECKPOINT === '1',
  memoryPattern: process.env.MEMPATTERN === '1',
});
const random = seededRandom(1);
const ids = Array.from({ length: seq }, () => 100 + Math.floor(random() * (model.config.vocabSize - 100)));
const batch = { batch: 1, seq, inputIds: ids, attentionMask: ids.map(() => 1), labels: ids };
const params = new Map();
for (const m of session.modules) {
  const a = Float32Array.from({ length: 2 * m.inFeatures }, () => (random() - 0.5) * 0.02);
  params.set(`${m.layer}.${m.target}`, { a, b: new Float32Array(m.outFeatures * 2) });
}
const wall = [];
const ort = [];
for (let i = 0; i < Number(stepsArg) + 1; i++) {
  const t0 = performance.now();
  const r = await session.step(batch, params, 16);
  if (i > 0) {
    wall.push(performance.now() - t0);
    ort.push(r.ortMs);
  }
}
session.endProfiling();
const file = readdirSync(tmpdir()).find((f) => f.startsWith(`rg-train-profile-${process.pid}`));
const events = JSON.parse(readFileSync(join(tmpdir(), file), 'utf8'));
rmSync(join(tmpdir(), file));
const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').slice(1);
const from = runs[0].ts;
const byOp = new Map();
let kernel = 0;
for (const e of events) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
  const op = process.env.BY_SHAPE ? `${e.args?.op_name} ${JSON.stringify(e.args?.input_type_shape)}` : (e.args?.op_name ?? '?');
  byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
  kernel += e.dur;
}
const n = runs.length;
const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
const ops = [...byOp]
  .sort((a, b) => b[1] - a[1])
  .map(([op, us]) => ({ op, msPerStep: +(us / 1000 / n).toFixed(1), share: +(us / kernel).toFixed(3) }));
console.log(
  JSON.stringify({
    seq,
    targets: targets.length,
    stepMs: +mean(wall).toFixed(1),
    ortMs: +mean(ort).toFixed(1),
    kernelMs: +(kernel / 1000 / n).toFixed(1),
    tokensPerSecond: +((seq * 1000) / mean(wall)).toFixed(1),
    arena: process.env.ARENA !== '0',
    checkpoint: process.env.CHECKPOINT === '1',
    memoryPattern: process.env.MEMPATTERN === '1',
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    ops: ops.slice(0, Number(process.env.TOP ?? 15)),
  }),
);
