import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from './builder.js';

describe('GraphBuilder', () => {
  it('builds a graph that onnxruntime runs, with a dynamic dim and deduplicated constants', async () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', 'float32', ['n', 3]);
    const w = g.input('w', 'float32', [3, 2]);
    const y = g.op('Mul', [g.op('MatMul', [x, w]), g.scalar(2)]);
    const z = g.op('Add', [y, g.scalar(2)]);
    g.outputAs(g.op('Reshape', [z, g.ints([-1])]), 'out', 'float32', ['m']);
    const session = await ort.InferenceSession.create(g.toBytes());
    const feeds = {
      x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]),
      w: new ort.Tensor('float32', Float32Array.from([1, 0, 0, 1, 1, 1]), [3, 2]),
    };
    const { out } = await session.run(feeds);
    // x@w = [[4,5],[10,11]] -> *2 +2
    expect(Array.from(out.data as Float32Array)).toEqual([10, 12, 22, 24]);
    expect(g.nodeCount).toBe(5);
  });

  it('writes float attributes as floats even when whole', async () => {
    const g = new GraphBuilder('t');
    const a = g.input('a', 'float32', [2, 2]);
    const b = g.input('b', 'float32', [2, 2]);
    g.outputAs(g.op('Gemm', [a, b], { transB: 1, alpha: 3 }), 'y', 'float32', [2, 2]);
    const session = await ort.InferenceSession.create(g.toBytes());
    const one = new ort.Tensor('float32', Float32Array.from([1, 0, 0, 1]), [2, 2]);
    const { y } = await session.run({ a: one, b: one });
    expect(Array.from(y.data as Float32Array)).toEqual([3, 0, 0, 3]);
  });
});
