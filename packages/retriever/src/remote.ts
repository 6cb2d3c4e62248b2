/**
 * Timeouts, bounded retries and clear errors for the server backends (Elasticsearch, Qdrant).
 * Their clients' defaults hang for minutes on a server that accepts and never answers (Qdrant:
 * 300 s per request) or retry a refused port for ~17 s (Elasticsearch), and say only "fetch
 * failed". Every call goes through `remoteCall`, and `openRetriever` probes the server first with
 * a short timeout, so a wrong URL or a dead server fails in seconds, naming the backend, its
 * environment variable and what to check.
 */

export type RemoteBackend = 'elasticsearch' | 'qdrant';

export interface RemoteOptions {
  /** The start-up probe's whole timeout: connect and first answer (default 3 s). */
  connectTimeoutMs?: number;
  /** Every later request (default 30 s; bulk writes of a few hundred documents fit well within it). */
  requestTimeoutMs?: number;
  /** Retries after a refused or reset connection or a 502/503/504 (default 2). Timeouts are not retried. */
  maxRetries?: number;
  /** First wait before a retry, doubled each time (default 250 ms). */
  backoffMs?: number;
}

export const REMOTE_DEFAULTS: Required<RemoteOptions> = { connectTimeoutMs: 3000, requestTimeoutMs: 30_000, maxRetries: 2, backoffMs: 250 };

/** Environment variables that override REMOTE_DEFAULTS (seconds, as people type them). */
export const REMOTE_ENV = { connect: 'RG_REMOTE_CONNECT_TIMEOUT', request: 'RG_REMOTE_TIMEOUT', retries: 'RG_REMOTE_RETRIES' } as const;

/** RemoteOptions from RG_REMOTE_CONNECT_TIMEOUT / RG_REMOTE_TIMEOUT (seconds) and RG_REMOTE_RETRIES; a bad value names its variable. */
export function remoteOptionsFromEnv(env: NodeJS.ProcessEnv | undefined): RemoteOptions {
  const seconds = (name: string): number | undefined => {
    const raw = env?.[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}="${raw}": expected a number of seconds greater than 0`);
    return n * 1000;
  };
  const retriesRaw = env?.[REMOTE_ENV.retries];
  let maxRetries: number | undefined;
  if (retriesRaw !== undefined && retriesRaw !== '') {
    if (!/^\d+$/.test(retriesRaw) || Number(retriesRaw) > 10)
      throw new Error(`${REMOTE_ENV.retries}="${retriesRaw}": expected an integer 0..10`);
    maxRetries = Number(retriesRaw);
  }
  return { connectTimeoutMs: seconds(REMOTE_ENV.connect), requestTimeoutMs: seconds(REMOTE_ENV.request), maxRetries };
}

export function resolveRemote(opts: RemoteOptions | undefined): Required<RemoteOptions> {
  const out = { ...REMOTE_DEFAULTS };
  for (const [k, v] of Object.entries(opts ?? {})) if (v !== undefined) (out as Record<string, number>)[k] = v;
  return out;
}

export interface RemoteTarget {
  backend: RemoteBackend;
  url: string;
}

export function envVarOf(backend: RemoteBackend): string {
  return backend === 'elasticsearch' ? 'RG_ES_URL' : 'RG_QDRANT_URL';
}

/** The server could not be reached or did not answer in time; the message says where and what to check. */
export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}

type Failure = { kind: 'connection' | 'timeout' | 'unavailable'; cause: string } | undefined;

/** Whether an error of either client (or of fetch) means the server was not reached or did not answer. */
function classify(e: unknown): Failure {
  const err = e as Error & { cause?: Error & { code?: string }; code?: string; meta?: { statusCode?: number }; status?: number };
  const name = err?.name ?? '';
  if (name === 'TimeoutError' || name === 'QdrantClientTimeoutError' || name === 'AbortError')
    return { kind: 'timeout', cause: 'no answer in time' };
  if (name === 'ConnectionError' || name === 'NoLivingConnectionsError' || (err instanceof TypeError && err.message === 'fetch failed')) {
    const code = err.cause?.code ?? err.code;
    return { kind: 'connection', cause: code ? `${code}${err.cause?.message ? `: ${err.cause.message}` : ''}` : err.message };
  }
  const status = err?.meta?.statusCode ?? err?.status;
  if (status === 502 || status === 503 || status === 504) return { kind: 'unavailable', cause: `HTTP ${status}` };
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function unavailable(target: RemoteTarget, what: string, cause: string, tries: number, timeoutMs: number): BackendUnavailableError {
  const env = envVarOf(target.backend);
  return new BackendUnavailableError(
    `${target.backend} at ${target.url} (${env}): ${what}: ${cause}${tries > 1 ? ` (${tries} tries)` : ''}, timeout ${timeoutMs / 1000} s: ` +
      `check that the ${target.backend} server is running and reachable, and that ${env} points at it ` +
      `(timeouts: ${REMOTE_ENV.connect}, ${REMOTE_ENV.request}; retries: ${REMOTE_ENV.retries})`,
  );
}

/**
 * Run one client call with bounded retries: a refused or reset connection and 502/503/504 are
 * tried again after a doubling wait; a timeout is not (a server that hangs once mostly hangs
 * again, and each try would cost the whole timeout). The client itself enforces `timeoutMs`.
 */
export async function remoteCall<T>(
  target: RemoteTarget,
  what: string,
  opts: Required<RemoteOptions>,
  fn: () => Promise<T>,
  timeoutMs = opts.requestTimeoutMs,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const failure = classify(e);
      if (!failure) throw e;
      if (failure.kind === 'timeout' || attempt >= opts.maxRetries) throw unavailable(target, what, failure.cause, attempt + 1, timeoutMs);
      await sleep(opts.backoffMs * 2 ** attempt);
    }
  }
}

/**
 * One GET of the server's root with the short connect timeout, before any client call: any HTTP
 * answer (even 401) shows a server is there; otherwise fail now, naming it.
 */
export async function probeServer(
  target: RemoteTarget,
  opts: Required<RemoteOptions>,
  headers: Record<string, string> = {},
): Promise<void> {
  if (!/^https?:\/\//.test(target.url)) {
    throw new BackendUnavailableError(
      `${envVarOf(target.backend)}="${target.url}": expected an http:// or https:// URL of the ${target.backend} server`,
    );
  }
  await remoteCall(
    target,
    'no answer to a first request',
    opts,
    async () => {
      try {
        const response = await fetch(target.url, { headers, signal: AbortSignal.timeout(opts.connectTimeoutMs) });
        await response.arrayBuffer();
      } catch (e) {
        // AbortSignal.timeout aborts with a TimeoutError DOMException.
        if ((e as Error).name === 'TimeoutError') throw Object.assign(new Error('timeout'), { name: 'TimeoutError' });
        throw e;
      }
    },
    opts.connectTimeoutMs,
  );
}
