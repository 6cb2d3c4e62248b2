import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

/** A tensor as plain data, the form that crosses to a worker thread. */
export interface TensorData {
  type: 'float32' | 'int64';
  data: Float32Array | BigInt64Array;
  dims: number[];
}

export interface RunRequest {
  /** Which session (`addSession`'s name); absent: the one the host was created with. */
  session?: string;
  feeds: Record<string, TensorData>;
  /** Stored feed sets (caches, adapters) to add to the feeds. */
  use: number[];
  /**
   * A KV cache handle to feed, and which outputs (the new tokens' K/V) to append to it under which input names: the
   * result's `kept` is the extended cache (the handle given stays valid).
   */
  cache?: { id: number; append: Record<string, string> };
  /** Outputs to return. */
  outputs: string[];
}

/**
 * Stack stored sets (adapter sets, one per row) along a new leading batch axis, each tensor zero-padded at the end of its
 * ragged axis (implemented in worker/ort-host.cjs).
 */
export interface StackRequest {
  rows: Array<{ id: number }>;
  /** Tensor name -> its ragged axis. */
  axes: Record<string, number>;
  /** Pad every row to at least this length along the ragged axis (default 0). */
  minLength?: number;
}

/** An empty KV cache: `names` are the cache inputs, each `[rows, heads, columns, headDim]`. */
export interface EmptyKvRequest {
  names: string[];
  rows: number;
  heads: number;
  headDim: number;
}

/** A KV cache whose rows are rows of caches: row `row` of handle `id`, its last `length` columns (left-padded). */
export interface StackKvRequest {
  rows: Array<{ id: number; row: number; length: number }>;
}

/** The result of a run: the outputs asked for and, with `cache`, the extended cache and its capacity in columns. */
export interface RunResult {
  outputs: Record<string, TensorData>;
  kept?: number;
  capacity?: number;
}

/**
 * One ORT session with constant feeds (weights) and stored feed sets by id. Tensors that live across
 * steps (KV cache, adapters) stay where the session is, in-process or in a worker thread.
 */
export interface SessionHost {
  store(feeds: Record<string, TensorData>): Promise<number>;
  emptyKv(request: EmptyKvRequest): Promise<number>;
  /** The new cache and its capacity in columns. */
  stackKv(request: StackKvRequest): Promise<{ id: number; capacity: number }>;
  /** Another session over the same constants and stored sets (a second graph of the same model). */
  addSession(name: string, model: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<void>;
  stack(request: StackRequest): Promise<number>;
  run(request: RunRequest): Promise<RunResult>;
  release(id: number): void;
  dispose(): Promise<void>;
}

export interface HostSpec {
  model: Uint8Array;
  sessionOptions: ort.InferenceSession.SessionOptions;
  constants: Record<string, TensorData>;
}

interface HostImpl {
  create(model: Uint8Array, options: ort.InferenceSession.SessionOptions, feeds: Record<string, TensorData>): Promise<void>;
  store(feeds: Record<string, TensorData>): number;
  emptyKv(request: EmptyKvRequest): number;
  stackKv(request: StackKvRequest): { id: number; capacity: number };
  addSession(name: string, model: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<void>;
  stack(request: StackRequest): number;
  run(request: RunRequest): Promise<RunResult>;
  release(id: number): void;
  dispose(): Promise<void>;
}

const require = createRequire(import.meta.url);
// worker/ is two levels above both src/runtime (tests) and dist/runtime (built): one path serves both.
const hostPath = new URL('../../worker/ort-host.cjs', import.meta.url);
const loadHostModule = () => require(fileURLToPath(hostPath)) as { createHost(o: typeof ort): HostImpl };

/** Run the session in this thread: `run` blocks the event loop while ORT computes. */
export async function localHost(spec: HostSpec): Promise<SessionHost> {
  const host = loadHostModule().createHost(ort);
  await host.create(spec.model, spec.sessionOptions, spec.constants);
  return {
    store: async (feeds) => host.store(feeds),
    emptyKv: async (request) => host.emptyKv(request),
    stackKv: async (request) => host.stackKv(request),
    addSession: (name, model, options) => host.addSession(name, model, options),
    stack: async (request) => host.stack(request),
    run: (request) => host.run(request),
    release: (id) => host.release(id),
    dispose: () => host.dispose(),
  };
}

/**
 * Run the session in a worker thread, so the main thread (a server) stays responsive while ORT
 * computes. The constants are copied to the worker once; the worker keeps the process alive only
 * while a call is pending.
 */
export async function workerHost(spec: HostSpec): Promise<SessionHost> {
  const worker = new Worker(hostPath, { workerData: { rgOrtHost: true, ortPath: require.resolve('onnxruntime-node') } });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextCall = 1;
  let failure: Error | null = null;
  worker.unref();
  const settleAll = (e: Error) => {
    failure = e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.on('message', ({ id, value, error }: { id: number; value?: unknown; error?: string }) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    if (pending.size === 0) worker.unref();
    if (error !== undefined) p.reject(new Error(error));
    else p.resolve(value);
  });
  worker.on('error', (e) => settleAll(e));
  worker.on('exit', (code) => settleAll(new Error(`ORT worker exited (code ${code})`)));
  const call = <T>(method: string, ...args: unknown[]): Promise<T> => {
    if (failure) return Promise.reject(failure);
    const id = nextCall++;
    worker.ref();
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ id, method, args });
    });
  };
  await call('create', spec.model, spec.sessionOptions, spec.constants);
  return {
    store: (feeds) => call<number>('store', feeds),
    emptyKv: (request) => call<number>('emptyKv', request),
    stackKv: (request) => call<{ id: number; capacity: number }>('stackKv', request),
    addSession: (name, model, options) => call<void>('addSession', name, model, options),
    stack: (request) => call<number>('stack', request),
    run: (request) => call('run', request),
    release: (id) => {
      if (!failure) worker.postMessage({ id: 0, method: 'release', args: [id] });
    },
    dispose: async () => {
      await call('dispose');
      await worker.terminate();
    },
  };
}
