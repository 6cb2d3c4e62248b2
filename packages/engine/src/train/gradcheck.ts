import * as ort from 'onnxruntime-node';
import { seededRandom } from '../generate/prng.js';
import { GraphBuilder } from '../graph/builder.js';
import { Ops } from './ops.js';

/** A float64 input of a gradient check. */
export interface CheckInput {
  name: string;
  dims: number[];
  data: Float64Array;
  /** Gradient check this input (false for fixed inputs such as frozen weights). */
  check: boolean;
}

export interface CheckResult {
  name: string;
  /** max |analytic - numeric| / max(|numeric|, 1e-12) */
  relErr: number;
  maxAbs: number;
}

/** Deterministic uniform numbers in [-scale, scale), so failing checks reproduce. */
export function randoms(n: number, seed: number, scale = 1): Float64Array {
  const random = seededRandom(seed);
  return Float64Array.from({ length: n }, () => (random() * 2 - 1) * scale);
}

/**
 * Checks a primitive's gradient rule against central finite differences in float64.
 * `build` receives the float64 input names plus int64 extras and returns the name of a scalar loss
 * and, per checked input, the name of its analytic gradient.
 */
export async function gradCheck(
  inputs: CheckInput[],
  build: (o: Ops, names: Record<string, string>) => { loss: string; grads: Record<string, string> },
  extra: Record<string, ort.Tensor> = {},
  eps = 1e-6,
): Promise<CheckResult[]> {
  const g = new GraphBuilder('gradcheck');
  const o = new Ops(g, 'float64');
  const names: Record<string, string> = {};
  for (const x of inputs) names[x.name] = g.input(x.name, 'float64', x.dims);
  for (const [n, t] of Object.entries(extra)) names[n] = g.input(n, t.type as 'int64', t.dims as number[]);
  const { loss, grads } = build(o, names);
  g.outputAs(loss, 'loss', 'float64', []);
  const checked = inputs.filter((x) => x.check);
  for (const x of checked) g.outputAs(grads[x.name], `grad_${x.name}`, 'float64', x.dims);
  const session = await ort.InferenceSession.create(g.toBytes(), { graphOptimizationLevel: 'disabled' });
  const feeds: Record<string, ort.Tensor> = { ...extra };
  for (const x of inputs) feeds[x.name] = new ort.Tensor('float64', x.data, x.dims);
  const analytic = await session.run(feeds);
  const lossAt = async (): Promise<number> => (await session.run(feeds, ['loss'])).loss.data[0] as number;
  const results: CheckResult[] = [];
  for (const x of checked) {
    const got = analytic[`grad_${x.name}`].data as Float64Array;
    let maxDiff = 0;
    let maxRef = 0;
    for (let i = 0; i < x.data.length; i++) {
      const v = x.data[i];
      x.data[i] = v + eps;
      const up = await lossAt();
      x.data[i] = v - eps;
      const down = await lossAt();
      x.data[i] = v;
      const numeric = (up - down) / (2 * eps);
      maxDiff = Math.max(maxDiff, Math.abs(got[i] - numeric));
      maxRef = Math.max(maxRef, Math.abs(numeric));
    }
    results.push({ name: x.name, relErr: maxDiff / Math.max(maxRef, 1e-12), maxAbs: maxRef });
  }
  await session.release();
  return results;
}
