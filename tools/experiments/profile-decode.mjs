// Where a decode step's time goes: runs rg's engine on a prompt of random ids, then greedy decode, with ORT's
// profiler on, and prints the time per op type (decode steps only, prefill excluded) and the time outside ORT.
// Usage (after `pnpm build`): node tools/experiments/profile-decode.mjs [model] [q4|f32] [prompt tokens] [new tokens] [lora|nolora]
// (`nolora`: the graph without LoRA inputs, as `rg bench generate` times the base model).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, OrtCausalLM, seededRandom } from '../../packages/engine/dist/index.js';

const [spec = 'smollm2-135m-instruct', format = 'q4', promptArg = '512', newArg = '64', lora = 'lora'] = process.argv.slice(2);
const prefix = join(tmpdir(), `rg-profile-${process.pid}`);
const model = await loadModel(spec);
const lm = await OrtCausalLM.load(model.config, model.weights, {
  threads: 2,
  weightFormat: format,
  profile: prefix,
  loraTargets: lora === 'nolora' ? [] : undefined,
});
const random = seededRandom(1);
const prompt = Array.from({ length: Number(promptArg) }, () => 100 + Math.floor(random() * (model.config.vocabSize - 100)));
let { cache, logits } = await lm.forward({ ids: prompt });
const steps = [];
for (let i = 0; i < Number(newArg); i++) {
  let best = 0;
  for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
  const t0 = performance.now();
  const step = await lm.forward({ ids: [best], cache });
  steps.push(performance.now() - t0);
  lm.release(cache);
  ({ cache, logits } = step);
}
await lm.dispose();
const file = readdirSync(tmpdir()).find((f) => f.startsWith(`rg-profile-${process.pid}`));
const events = JSON.parse(readFileSync(join(tmpdir(), file), 'utf8'));
rmSync(join(tmpdir(), file));
// The last `new` model_run events are the decode steps; count kernel time inside them.
const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').slice(-steps.length);
const first = runs[0].ts;
const byOp = new Map();
let kernel = 0;
for (const e of events) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < first) continue;
  const op = process.env.BY_SHAPE ? `${e.args?.op_name} ${JSON.stringify(e.args?.input_type_shape)}` : (e.args?.op_name ?? '?');
  byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
  kernel += e.dur;
}
const runMs = runs.reduce((s, e) => s + e.dur, 0) / 1000 / runs.length;
const stepMs = steps.reduce((s, x) => s + x, 0) / steps.length;
const ops = [...byOp]
  .sort((a, b) => b[1] - a[1])
  .map(([op, us]) => ({ op, msPerStep: +(us / 1000 / runs.length).toFixed(3), share: +(us / kernel).toFixed(3) }));
console.log(
  JSON.stringify({
    format,
    lora,
    promptTokens: Number(promptArg),
    newTokens: steps.length,
    stepMs: +stepMs.toFixed(2),
    ortRunMs: +runMs.toFixed(2),
    kernelMs: +(kernel / 1000 / runs.length).toFixed(2),
    outsideOrtMs: +(stepMs - runMs).toFixed(2),
    ops: ops.slice(0, Number(process.env.TOP ?? 15)),
  }),
);
