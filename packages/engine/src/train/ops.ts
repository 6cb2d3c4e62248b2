import type { GraphBuilder } from '../graph/builder.js';

/** Training graphs run in float32; gradient checks build the same graphs in float64. */
export type FloatType = 'float32' | 'float64';

/**
 * Thin op helpers over GraphBuilder for one float type, so primitives read like their math.
 * Shapes that depend on the batch are built once from the input_ids shape (`dynamicShape`).
 */
export class Ops {
  constructor(
    readonly g: GraphBuilder,
    readonly dtype: FloatType,
  ) {}

  c(v: number): string {
    return this.g.scalar(v, this.dtype);
  }
  add(a: string, b: string): string {
    return this.g.op('Add', [a, b]);
  }
  sub(a: string, b: string): string {
    return this.g.op('Sub', [a, b]);
  }
  mul(a: string, b: string): string {
    return this.g.op('Mul', [a, b]);
  }
  div(a: string, b: string): string {
    return this.g.op('Div', [a, b]);
  }
  matmul(a: string, b: string): string {
    return this.g.op('MatMul', [a, b]);
  }
  /** alpha * op(a) · op(b) (+ c). 2-D only; transB lets [out, in] weights be used without a copy. */
  gemm(a: string, b: string, o: { c?: string; transA?: boolean; transB?: boolean; alpha?: number } = {}): string {
    const attrs: Record<string, number> = {};
    if (o.transA) attrs.transA = 1;
    if (o.transB) attrs.transB = 1;
    if (o.alpha !== undefined && o.alpha !== 1) attrs.alpha = o.alpha;
    return this.g.op('Gemm', o.c ? [a, b, o.c] : [a, b], attrs);
  }
  transpose(a: string, perm: number[]): string {
    return this.g.op('Transpose', [a], { perm });
  }
  /** `shape` is a constant (0 copies the input dim, -1 infers) or the name of an int64 shape tensor. */
  reshape(a: string, shape: number[] | string): string {
    return this.g.op('Reshape', [a, typeof shape === 'string' ? shape : this.g.ints(shape)]);
  }
  reduceSum(a: string, axes: number[], keepdims = true): string {
    return this.g.op('ReduceSum', [a, this.g.ints(axes)], { keepdims: keepdims ? 1 : 0 });
  }
  reduceMean(a: string, axes: number[]): string {
    return this.g.op('ReduceMean', [a, this.g.ints(axes)], { keepdims: 1 });
  }
  reduceMax(a: string, axes: number[]): string {
    return this.g.op('ReduceMax', [a, this.g.ints(axes)], { keepdims: 1 });
  }
  /** Slice along one axis, [start, end). */
  slice(a: string, axis: number, start: number, end: number): string {
    return this.g.op('Slice', [a, this.g.ints([start]), this.g.ints([end]), this.g.ints([axis])]);
  }
  concat(parts: string[], axis: number): string {
    return this.g.op('Concat', parts, { axis });
  }
  unary(op: 'Exp' | 'Log' | 'Sqrt' | 'Reciprocal' | 'Sigmoid' | 'Neg' | 'Shape', a: string): string {
    return this.g.op(op, [a]);
  }
  cast(a: string, to: FloatType | 'int64' | 'bool'): string {
    const code = { float32: 1, float64: 11, int64: 7, bool: 9 }[to];
    return this.g.op('Cast', [a], { to: code });
  }
}
