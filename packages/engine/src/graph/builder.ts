import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** ONNX element types used by the engine (TensorProto.DataType). */
export const DType = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11 } as const;
export type DTypeName = keyof typeof DType;

/** A dimension: a fixed size or a symbolic name such as 'batch', 'seq' or 'rank'. */
export type Dim = number | string;

type Attr = number | number[] | string | Float32Array | { tensor: TensorInit };

export interface TensorInit {
  dtype: DTypeName;
  dims: number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;
}

/**
 * Writes ONNX graphs from standard ops. Values are referred to by name; every op returns the
 * name(s) of its output(s), so model code reads like the math it implements.
 * Constants are deduplicated, so a graph that asks for the scalar 0.5 a thousand times holds it once.
 */
export class GraphBuilder {
  private readonly nodes: object[] = [];
  private readonly initializers: object[] = [];
  private readonly inputs: object[] = [];
  private readonly outputs: object[] = [];
  private readonly constants = new Map<string, string>();
  private counter = 0;

  constructor(readonly name: string) {}

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, dtype: DTypeName, shape: Dim[]): string {
    this.inputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  output(name: string, dtype: DTypeName, shape: Dim[]): string {
    this.outputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  /** Expose an existing value under a graph-output name (adds an Identity when the names differ). */
  outputAs(value: string, name: string, dtype: DTypeName, shape: Dim[]): string {
    if (value !== name) this.op('Identity', [value], {}, [name]);
    return this.output(name, dtype, shape);
  }

  initializer(name: string, t: TensorInit): string {
    this.initializers.push(tensorProto(name, t));
    return name;
  }

  /**
   * An initializer whose bytes live outside the model proto (ONNX external data), at `offset` in the
   * file `location`; the session gets the bytes through `externalData`. Keeps the proto under
   * protobuf's 2 GB limit and avoids copying weights into it.
   */
  externalInitializer(name: string, dtype: DTypeName, dims: number[], location: string, offset: number, length: number): string {
    this.initializers.push({
      name,
      dims,
      dataType: DType[dtype],
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(length) },
      ],
    });
    return name;
  }

  /**
   * Add one node. `outputs` may name the results; otherwise they are generated.
   * Returns the single output name (or the array when several outputs are requested).
   */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs?: string[] | number, domain = ''): string {
    const outs = this.addNode(opType, inputs, attrs, outputs, domain);
    return outs[0];
  }

  opMulti(opType: string, inputs: string[], attrs: Record<string, Attr>, outputs: string[] | number, domain = ''): string[] {
    return this.addNode(opType, inputs, attrs, outputs, domain);
  }

  private addNode(
    opType: string,
    inputs: string[],
    attrs: Record<string, Attr>,
    outputs: string[] | number | undefined,
    domain: string,
  ): string[] {
    const outs = Array.isArray(outputs) ? outputs : Array.from({ length: outputs ?? 1 }, () => this.fresh(opType));
    this.nodes.push({
      opType,
      domain,
      name: this.fresh(`n_${opType}`),
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** A float scalar constant (shape []); float64 for graphs checked in double precision. */
  scalar(v: number, dtype: 'float32' | 'float64' = 'float32'): string {
    if (dtype === 'float64') return this.constant(`d:${v}`, { dtype, dims: [], data: Float64Array.of(v) });
    return this.constant(`f:${v}`, { dtype: 'float32', dims: [], data: Float32Array.of(v) });
  }

  /** An int64 1-D constant, e.g. a shape or axes list. */
  ints(values: number[]): string {
    return this.constant(`i:${values.join(',')}`, { dtype: 'int64', dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
  }

  /** An int64 scalar constant. */
  int(value: number): string {
    return this.constant(`i0:${value}`, { dtype: 'int64', dims: [], data: BigInt64Array.of(BigInt(value)) });
  }

  private constant(key: string, t: TensorInit): string {
    let name = this.constants.get(key);
    if (!name) {
      name = this.fresh('const');
      this.initializers.push(tensorProto(name, t));
      this.constants.set(key, name);
    }
    return name;
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /** Serialize as an ONNX model (IR 8, default opset 18 unless given). */
  toBytes(opset = 18, extraDomains: Array<{ domain: string; version: number }> = []): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'rg-engine',
      opsetImport: [{ domain: '', version: opset }, ...extraDomains],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, dtype: DTypeName, shape: Dim[]): object {
  return {
    name,
    type: {
      tensorType: {
        elemType: DType[dtype],
        shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

function tensorProto(name: string, t: TensorInit): object {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return { name, dims: t.dims, dataType: DType[t.dtype], rawData: bytes };
}

const AttrType = onnx.AttributeProto.AttributeType;

function attribute(name: string, v: Attr): object {
  if (typeof v === 'number') {
    return Number.isInteger(v) && !Object.is(v, -0) && !isFloatAttr(name)
      ? { name, type: AttrType.INT, i: v }
      : { name, type: AttrType.FLOAT, f: v };
  }
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: v };
  if (v instanceof Float32Array) return { name, type: AttrType.FLOATS, floats: Array.from(v) };
  return { name, type: AttrType.TENSOR, t: tensorProto(name, v.tensor) };
}

// ONNX attributes that are floats even when the value happens to be whole (alpha=1, epsilon...).
const FLOAT_ATTRS = new Set(['alpha', 'beta', 'epsilon', 'gamma', 'value_float', 'min', 'max', 'ratio', 'lambd', 'bias']);
function isFloatAttr(name: string): boolean {
  return FLOAT_ATTRS.has(name);
}
