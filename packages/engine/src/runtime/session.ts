import * as ort from 'onnxruntime-node';

export interface SessionOptions {
  /** Intra-op threads (default: ORT's choice, one per core). */
  threads?: number;
  /** Bytes of external-data initializers, by the location named in the model. */
  externalData?: Array<{ path: string; data: Uint8Array }>;
  /** Write ORT's per-op profile (Chrome trace JSON) to files starting with this path; the file is written when the session is disposed. */
  profile?: string;
}

/** ORT CPU session options for the engine's graphs. */
export function sessionOptions(options: SessionOptions = {}): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    // One request at a time per session: parallelism comes from intra-op threads.
    executionMode: 'sequential',
    interOpNumThreads: 1,
    // ORT's pool threads spin for work inside a run (fast: a decode step is hundreds of small ops) and, by default, go
    // on spinning after it. Between runs the process has its own work (sampling, a server's requests, composing the
    // next request's adapters), and on few cores a spinning pool thread takes a core from it: on 2 cores the p99 of a
    // served request's adapter work was 21-27 ms with the spin and 10-12 ms without, answers ~17% faster, decode
    // tokens/s unchanged (docs/BENCHMARKS.md, Serving). Stop the spin when a run returns; the next run restarts it.
    extra: { session: { force_spinning_stop: '1' } },
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
    ...(options.externalData ? { externalData: options.externalData } : {}),
    ...(options.profile ? { enableProfiling: true, profileFilePrefix: options.profile } : {}),
  };
}

/** An ORT CPU session for a model proto written by the graph builder. */
export async function createSession(model: Uint8Array, options: SessionOptions = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, sessionOptions(options));
}
