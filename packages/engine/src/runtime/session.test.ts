import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graph/builder.js';
import { sessionOptions } from './session.js';

/** CPU time this process spends in `ms` of doing nothing right after `runs` runs of a 512 x 512 matmul on 2 threads. */
async function cpuWhileIdle(options: ort.InferenceSession.SessionOptions, runs = 5, ms = 300): Promise<number> {
  const g = new GraphBuilder('spin');
  const x = g.input('x', 'float32', [512, 512]);
  g.outputAs(g.op('MatMul', [x, x]), 'y', 'float32', [512, 512]);
  const session = await ort.InferenceSession.create(g.toBytes(), options);
  try {
    const feed = new ort.Tensor('float32', new Float32Array(512 * 512).fill(0.5), [512, 512]);
    for (let i = 0; i < runs; i++) await session.run({ x: feed });
    const start = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, ms));
    const used = process.cpuUsage(start);
    return (used.user + used.system) / 1000;
  } finally {
    await session.release();
  }
}

describe('sessionOptions', () => {
  it('stops the pool threads spinning when a run returns (ORT spins on by default, taking a core from the caller)', async () => {
    const stopped = await cpuWhileIdle(sessionOptions({ threads: 2 }));
    // The control: ORT's default, without the option, keeps a pool thread spinning after the run (~40 ms of CPU here).
    const spinning = await cpuWhileIdle({ ...sessionOptions({ threads: 2 }), extra: {} });
    expect(stopped, `idle CPU ${stopped} ms with the option, ${spinning} ms without`).toBeLessThan(Math.max(5, spinning / 3));
  });
});
