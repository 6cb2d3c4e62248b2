import * as ort from 'onnxruntime-node';

export interface SessionOptions {
  /** Intra-op threads (default: ORT's choice, one per core). */
  threads?: number;
  /** Bytes of external-data initializers, by the location named in the model. */
  externalData?: Array<{ path: string; data: Uint8Array }>;
}

/** ORT CPU session options for the engine's graphs. */
export function sessionOptions(options: SessionOptions = {}): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    // One request at a time per session: parallelism comes from intra-op threads.
    executionMode: 'sequential',
    interOpNumThreads: 1,
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
    ...(options.externalData ? { externalData: options.externalData } : {}),
  };
}

/** An ORT CPU session for a model proto written by the graph builder. */
export async function createSession(model: Uint8Array, options: SessionOptions = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, sessionOptions(options));
}
