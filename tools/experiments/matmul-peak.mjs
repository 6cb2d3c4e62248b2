// The fp32 matmul rate ORT reaches on this machine: the "matmul limit" a training step is measured against. A square
// MatMul and the shapes of SmolLM2's frozen projections in a seq-256 training step, 2 threads, the engine's inference
// session options; prints one JSON line with GFLOP/s per shape and the load at start and end.
// Usage (after `pnpm build`): node tools/experiments/matmul-peak.mjs [threads]
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { createSession, GraphBuilder } from '../../packages/engine/dist/index.js';

// onnxruntime-node is the engine's dependency, not the repository root's: its Tensor from there.
const ort = createRequire(new URL('../../packages/engine/package.json', import.meta.url))('onnxruntime-node');

const threads = Number(process.argv[2] ?? '2');
const shapes = [
  [2048, 2048, 2048],
  [256, 576, 1536], // x · W_gateᵀ / W_upᵀ
  [256, 1536, 576], // x · W_downᵀ, and the input gradient through gate/up
  [256, 576, 576], // q / o projections
];
const start = loadavg();
const rates = [];
for (const [m, k, n] of shapes) {
  const g = new GraphBuilder('mm');
  const a = g.input('a', 'float32', [m, k]);
  const b = g.input('b', 'float32', [k, n]);
  g.outputAs(g.op('MatMul', [a, b]), 'y', 'float32', [m, n]);
  const session = await createSession(g.toBytes(), { threads });
  const feeds = {
    a: new ort.Tensor('float32', new Float32Array(m * k).fill(0.5), [m, k]),
    b: new ort.Tensor('float32', new Float32Array(k * n).fill(0.25), [k, n]),
  };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const reps = Math.max(5, Math.round(1e11 / (2 * m * k * n)));
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await session.run(feeds);
  const seconds = (performance.now() - t0) / 1000;
  rates.push({ shape: `${m}x${k}x${n}`, gflops: Number(((2 * m * k * n * reps) / seconds / 1e9).toFixed(1)) });
  await session.release();
}
console.log(JSON.stringify({ threads, rates, load: { start, end: loadavg() } }));
